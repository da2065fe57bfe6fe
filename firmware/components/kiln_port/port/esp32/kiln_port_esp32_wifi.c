/*
 * ESP32 port, Wi-Fi station (kiln_port_sys.h). The driver reports through the default
 * event loop; the handlers only queue events. The port never reconnects on its own
 * (ESP-IDF's station does not either unless told to): the core decides, and a
 * disconnect reason goes to it as the driver's wifi_err_reason_t.
 *
 * APIs (ESP-IDF v5.x): esp_netif.h / esp_wifi_default.h esp_netif_create_default_wifi_sta();
 * esp_wifi.h esp_wifi_init(const wifi_init_config_t *), WIFI_INIT_CONFIG_DEFAULT(),
 * esp_wifi_set_storage(wifi_storage_t), esp_wifi_set_mode(wifi_mode_t), esp_wifi_start(),
 * esp_wifi_set_config(wifi_interface_t, wifi_config_t *), esp_wifi_connect(),
 * esp_wifi_disconnect(), esp_wifi_sta_get_ap_info(wifi_ap_record_t *),
 * esp_wifi_scan_start(const wifi_scan_config_t *, bool block),
 * esp_wifi_scan_get_ap_records(uint16_t *number, wifi_ap_record_t *ap_records);
 * esp_wifi_types_generic.h wifi_event_sta_disconnected_t.reason (uint8_t),
 * wifi_ap_record_t.ssid[33] / .rssi / .authmode; esp_event.h
 * esp_event_handler_instance_register(esp_event_base_t, int32_t, esp_event_handler_t,
 * void *, esp_event_handler_instance_t *); esp_netif_types.h IP_EVENT_STA_GOT_IP.
 */
#include <stdatomic.h>
#include <string.h>

#include "esp_event.h"
#include "esp_log.h"
#include "esp_netif.h"
#include "esp_wifi.h"
#include "kiln_port_esp32_internal.h"

#define SCAN_MAX 20

static const char *TAG = "kiln_wifi";
static atomic_bool s_ignore_disconnect; /* the next DISCONNECTED is one the core asked for */

static void on_wifi_event(void *arg, esp_event_base_t base, int32_t id, void *data)
{
    (void)arg;
    if (base == WIFI_EVENT && id == WIFI_EVENT_STA_DISCONNECTED) {
        const wifi_event_sta_disconnected_t *d = data;
        if (atomic_exchange(&s_ignore_disconnect, false)) {
            return;
        }
        kiln_esp32_event_post(KILN_PORT_EVENT_WIFI_DISCONNECTED, d->reason, NULL, 0);
    } else if (base == IP_EVENT && id == IP_EVENT_STA_GOT_IP) {
        kiln_esp32_event_post(KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL, 0);
    }
}

esp_err_t kiln_esp32_wifi_start(void)
{
    if (esp_netif_create_default_wifi_sta() == NULL) {
        return ESP_FAIL;
    }
    wifi_init_config_t init = WIFI_INIT_CONFIG_DEFAULT();
    esp_err_t err = esp_wifi_init(&init);
    /* Credentials live in the core's own NVS keys; the driver's copy would be a second truth. */
    if (err == ESP_OK) err = esp_wifi_set_storage(WIFI_STORAGE_RAM);
    if (err == ESP_OK) {
        err = esp_event_handler_instance_register(WIFI_EVENT, WIFI_EVENT_STA_DISCONNECTED, on_wifi_event, NULL, NULL);
    }
    if (err == ESP_OK) {
        err = esp_event_handler_instance_register(IP_EVENT, IP_EVENT_STA_GOT_IP, on_wifi_event, NULL, NULL);
    }
    if (err == ESP_OK) err = esp_wifi_set_mode(WIFI_MODE_STA);
    if (err == ESP_OK) err = esp_wifi_start();
    return err;
}

kiln_port_err_t kiln_port_wifi_connect(const char *ssid, const char *password)
{
    wifi_config_t config;
    memset(&config, 0, sizeof(config));
    size_t ssid_len = strlen(ssid);
    size_t pass_len = strlen(password);
    if (ssid_len == 0 || ssid_len > sizeof(config.sta.ssid) || pass_len > sizeof(config.sta.password)) {
        return KILN_PORT_ERR_FAIL;
    }
    memcpy(config.sta.ssid, ssid, ssid_len);         /* 32 bytes, NUL only if shorter */
    memcpy(config.sta.password, password, pass_len); /* 64 bytes: a 64-hex-digit PSK fills it */
    kiln_port_wifi_disconnect(); /* a new attempt replaces the old one, with no event for it */
    esp_err_t err = esp_wifi_set_config(WIFI_IF_STA, &config);
    if (err == ESP_OK) {
        err = esp_wifi_connect();
    }
    if (err != ESP_OK) {
        ESP_LOGE(TAG, "connect to \"%s\": %s", ssid, esp_err_to_name(err));
        return KILN_PORT_ERR_FAIL;
    }
    return KILN_PORT_OK;
}

void kiln_port_wifi_disconnect(void)
{
    wifi_ap_record_t ap;
    /* Only a station that is associated (or connecting) reports a DISCONNECTED to swallow. */
    bool linked = esp_wifi_sta_get_ap_info(&ap) == ESP_OK;
    atomic_store(&s_ignore_disconnect, linked);
    if (esp_wifi_disconnect() != ESP_OK) {
        atomic_store(&s_ignore_disconnect, false);
    }
}

bool kiln_port_wifi_rssi(int8_t *rssi)
{
    wifi_ap_record_t ap;
    if (esp_wifi_sta_get_ap_info(&ap) != ESP_OK) {
        return false;
    }
    *rssi = ap.rssi;
    return true;
}

size_t kiln_port_wifi_scan(kiln_port_ap_t *aps, size_t max)
{
    static wifi_ap_record_t records[SCAN_MAX];
    wifi_scan_config_t scan;
    memset(&scan, 0, sizeof(scan)); /* all channels, active scan, default times */
    if (esp_wifi_scan_start(&scan, true) != ESP_OK) {
        return 0;
    }
    uint16_t n = SCAN_MAX;
    if (esp_wifi_scan_get_ap_records(&n, records) != ESP_OK) {
        return 0;
    }
    size_t count = 0;
    for (uint16_t i = 0; i < n && count < max; i++) {
        memset(&aps[count], 0, sizeof(aps[count]));
        memcpy(aps[count].ssid, records[i].ssid, sizeof(aps[count].ssid) - 1u);
        aps[count].rssi = records[i].rssi;
        aps[count].secure = records[i].authmode != WIFI_AUTH_OPEN;
        count++;
    }
    return count;
}
