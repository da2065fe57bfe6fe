/*
 * Kiln firmware entry point: wires ESP-IDF to the device core, and decides nothing.
 * Order: NVS, esp_netif, the default event loop, the port (UART console, NVS
 * namespace, event queue, Wi-Fi station), the core; then this task runs the core's
 * loop: UART bytes in, queued platform events in, kiln_device_tick() for what is due.
 *
 * APIs (ESP-IDF v5.x): nvs_flash.h nvs_flash_init(); esp_netif.h esp_netif_init();
 * esp_event.h esp_event_loop_create_default(); esp_app_desc.h esp_app_get_description()
 * (project_name from project(kiln_firmware), version from version.txt).
 */
#include "esp_app_desc.h"
#include "esp_err.h"
#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "kiln_device.h"
#include "kiln_port_esp32.h"
#include "kiln_protocol.h"
#include "nvs_flash.h"

static const char *TAG = "kiln";

#define LOOP_MAX_WAIT_MS 10 /* UART latency bound: the loop never sleeps longer waiting for bytes */

void app_main(void)
{
    esp_err_t err = nvs_flash_init();
    if (err == ESP_ERR_NVS_NO_FREE_PAGES || err == ESP_ERR_NVS_NEW_VERSION_FOUND) {
        /* Not erased and retried, as the IDF examples do: NVS holds the device's private key,
         * and wiping it silently would orphan the device's registration. Starting over must
         * be a deliberate factory reset. */
        ESP_LOGE(TAG, "NVS cannot be mounted (%s): settings and keys are unavailable until a factory reset",
                 esp_err_to_name(err));
    } else if (err != ESP_OK) {
        ESP_LOGE(TAG, "nvs_flash_init failed: %s", esp_err_to_name(err));
    }
    ESP_ERROR_CHECK(esp_netif_init());
    ESP_ERROR_CHECK(esp_event_loop_create_default());
    ESP_ERROR_CHECK(kiln_port_esp32_start());

    const esp_app_desc_t *app = esp_app_get_description();
    kiln_device_config_t config;
    kiln_device_config_default(&config);
    config.fw_name = app->project_name;
    config.fw_version = app->version;
    ESP_LOGI(TAG, "%s %s, protocol %s, serial RPC version %d", app->project_name, app->version,
             KILN_PROTOCOL_VERSION, KILN_RPC_VERSION);
    kiln_device_t *dev = kiln_device_start(&config);
    if (dev == NULL) {
        ESP_LOGE(TAG, "kiln_device_start refused the configuration");
        return;
    }

    static uint8_t rx[512];
    for (;;) {
        uint32_t due_ms = kiln_device_tick(dev);
        size_t n = kiln_port_esp32_serial_read(rx, sizeof(rx), due_ms < LOOP_MAX_WAIT_MS ? due_ms : LOOP_MAX_WAIT_MS);
        if (n > 0) {
            kiln_device_serial_input(dev, rx, n);
        }
        kiln_port_event_t event;
        while (kiln_port_esp32_event_take(&event)) {
            kiln_device_event(dev, &event);
        }
    }
}
