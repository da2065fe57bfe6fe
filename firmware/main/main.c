/*
 * Kiln firmware entry point.
 *
 * Foundation only: it mounts NVS (where the device id, gateway URL, CA and key will
 * live) and says which contract it speaks. The device logic (Improv and Kiln RPC on
 * the UART, Wi-Fi, the kiln.v1 WSS session) comes with the state machine in a later
 * issue, in the portable core, not here.
 */
#include "esp_err.h"
#include "esp_log.h"
#include "kiln_protocol.h"
#include "nvs_flash.h"

static const char *TAG = "kiln";

void app_main(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        /* Not erased and retried, as the IDF examples do: NVS will hold the device's
         * private key, and wiping it silently would orphan the device's registration.
         * Starting over must be a deliberate factory reset. */
        ESP_LOGE(TAG, "NVS cannot be mounted (%s): settings and keys are unavailable until a factory reset",
                 esp_err_to_name(err));
    } else if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_flash_init failed: %s", esp_err_to_name(err));
    }
    ESP_LOGI(TAG, "Kiln firmware, protocol %s, serial RPC version %d", KILN_PROTOCOL_VERSION, KILN_RPC_VERSION);
}
