/*
 * ESP32 port, system services (kiln_port_sys.h): clocks, SNTP, restart, heap, chip
 * temperature, chip and MAC, and the event queue the drivers post into.
 *
 * APIs (ESP-IDF v5.x): esp_timer.h esp_timer_get_time() -> int64_t us;
 * esp_netif_sntp.h (IDF >= 5.1) esp_netif_sntp_init(const esp_sntp_config_t *),
 * ESP_NETIF_SNTP_DEFAULT_CONFIG(server), esp_sntp_config_t.sync_cb
 * (void (*)(struct timeval *)), esp_netif_sntp_start(); esp_system.h esp_restart(),
 * esp_get_free_heap_size(), esp_get_minimum_free_heap_size(); esp_mac.h
 * esp_read_mac(uint8_t *mac, esp_mac_type_t type); driver/temperature_sensor.h
 * temperature_sensor_install(const temperature_sensor_config_t *, temperature_sensor_handle_t *),
 * TEMPERATURE_SENSOR_CONFIG_DEFAULT(min, max), temperature_sensor_enable(),
 * temperature_sensor_get_celsius(temperature_sensor_handle_t, float *), only where
 * soc/soc_caps.h has SOC_TEMP_SENSOR_SUPPORTED (S3, C3; not the ESP32);
 * freertos/queue.h xQueueCreate, xQueueSend, xQueueReceive.
 */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "driver/uart.h"
#include "esp_log.h"
#include "esp_mac.h"
#include "esp_netif_sntp.h"
#include "esp_system.h"
#include "esp_timer.h"
#include "freertos/FreeRTOS.h"
#include "freertos/queue.h"
#include "kiln_port_esp32.h"
#include "kiln_port_esp32_internal.h"
#include "sdkconfig.h"
#include "soc/soc_caps.h"
#if SOC_TEMP_SENSOR_SUPPORTED
#include "driver/temperature_sensor.h"
#endif

#define EVENT_QUEUE_LEN 16 /* bounds the heap held by queued WS_TEXT copies: 16 x KILN_ESP32_WS_RX_MAX */
#define SNTP_SERVER "pool.ntp.org"

static const char *TAG = "kiln_port";
static QueueHandle_t s_events;
static char *s_taken_text;
static atomic_bool s_time_synced;
static bool s_sntp_started;

/* --- events ---------------------------------------------------------------------- */

bool kiln_esp32_event_post(kiln_port_event_kind_t kind, int code, const char *text, size_t len)
{
    kiln_port_event_t e = {.kind = kind, .code = code, .text = NULL, .len = 0};
    char *copy = NULL;
    if (text != NULL) {
        copy = malloc(len + 1u);
        if (copy == NULL) {
            ESP_LOGE(TAG, "no memory for an event (%u bytes): dropped", (unsigned)len);
            return false;
        }
        memcpy(copy, text, len);
        copy[len] = '\0';
        e.text = copy;
        e.len = len;
    }
    if (s_events == NULL || xQueueSend(s_events, &e, 0) != pdTRUE) {
        ESP_LOGE(TAG, "event queue full: event %d dropped", (int)kind);
        free(copy);
        return false;
    }
    return true;
}

bool kiln_port_esp32_event_take(kiln_port_event_t *e)
{
    free(s_taken_text);
    s_taken_text = NULL;
    if (s_events == NULL || xQueueReceive(s_events, e, 0) != pdTRUE) {
        return false;
    }
    s_taken_text = (char *)e->text;
    return true;
}

esp_err_t kiln_esp32_events_start(void)
{
    s_events = xQueueCreate(EVENT_QUEUE_LEN, sizeof(kiln_port_event_t));
    return s_events != NULL ? ESP_OK : ESP_ERR_NO_MEM;
}

/* --- time -------------------------------------------------------------------------- */

uint64_t kiln_port_uptime_ms(void)
{
    return (uint64_t)(esp_timer_get_time() / 1000);
}

bool kiln_port_wall_time_ms(int64_t *ms)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    *ms = (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
    return atomic_load(&s_time_synced);
}

/* SNTP's callback (lwIP's tcpip task): only flags and queues. */
static void on_time_sync(struct timeval *tv)
{
    (void)tv;
    if (!atomic_exchange(&s_time_synced, true)) {
        kiln_esp32_event_post(KILN_PORT_EVENT_TIME_SYNCED, 0, NULL, 0);
    }
}

void kiln_port_time_sync_start(void)
{
    if (atomic_load(&s_time_synced)) {
        /* Already set (an earlier connection); SNTP keeps it in step by itself. */
        kiln_esp32_event_post(KILN_PORT_EVENT_TIME_SYNCED, 0, NULL, 0);
        return;
    }
    if (s_sntp_started) {
        (void)esp_netif_sntp_start(); /* restart the pending request on the new link */
        return;
    }
    esp_sntp_config_t config = ESP_NETIF_SNTP_DEFAULT_CONFIG(SNTP_SERVER);
    config.sync_cb = on_time_sync;
    config.wait_for_sync = false; /* the callback reports; nothing blocks in esp_netif_sntp_sync_wait() */
    esp_err_t err = esp_netif_sntp_init(&config);
    s_sntp_started = err == ESP_OK;
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "esp_netif_sntp_init: %s", esp_err_to_name(err));
    }
}

/* --- system ------------------------------------------------------------------------- */

void kiln_port_restart(void)
{
    (void)uart_wait_tx_done(UART_NUM_0, pdMS_TO_TICKS(500)); /* the last log line and RPC reply */
    esp_restart();
}

void kiln_port_heap(uint32_t *free_bytes, uint32_t *min_free_bytes)
{
    *free_bytes = esp_get_free_heap_size();
    *min_free_bytes = esp_get_minimum_free_heap_size();
}

bool kiln_port_chip_temperature(float *celsius)
{
#if SOC_TEMP_SENSOR_SUPPORTED
    static temperature_sensor_handle_t sensor;
    static bool failed;
    if (sensor == NULL && !failed) {
        /* -10..80 °C: the range with the smallest error on S3 and C3 (temperature_sensor docs). */
        temperature_sensor_config_t config = TEMPERATURE_SENSOR_CONFIG_DEFAULT(-10, 80);
        failed = temperature_sensor_install(&config, &sensor) != ESP_OK || temperature_sensor_enable(sensor) != ESP_OK;
    }
    return !failed && temperature_sensor_get_celsius(sensor, celsius) == ESP_OK;
#else
    (void)celsius; /* the ESP32 has no usable internal temperature sensor */
    return false;
#endif
}

void kiln_port_chip_info(kiln_port_chip_info_t *info)
{
    info->chip = CONFIG_IDF_TARGET; /* "esp32", "esp32s3", "esp32c3": the SPEC chip names */
    if (esp_read_mac(info->mac, ESP_MAC_WIFI_STA) != ESP_OK) {
        memset(info->mac, 0, sizeof(info->mac));
    }
}

esp_err_t kiln_port_esp32_start(void)
{
    esp_err_t err = kiln_esp32_console_start();
    if (err == ESP_OK) {
        err = kiln_esp32_events_start();
    }
    if (err == ESP_OK) {
        /* Without NVS the device still runs (Improv, console), it just cannot keep settings. */
        esp_err_t nvs = kiln_esp32_storage_start();
        if (nvs != ESP_OK) {
            ESP_LOGE(TAG, "nvs_open(\"kiln\"): %s: settings cannot be kept", esp_err_to_name(nvs));
        }
        err = kiln_esp32_wifi_start();
    }
    return err;
}
