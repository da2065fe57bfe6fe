/*
 * ESP32 port, storage (kiln_port_sys.h kv API) on NVS, namespace "kiln": one blob per
 * key, committed on every write (the core writes rarely: provisioning, key generation).
 *
 * APIs (ESP-IDF v5.x nvs.h): nvs_open(const char *namespace_name, nvs_open_mode_t
 * open_mode, nvs_handle_t *out_handle), nvs_get_blob(nvs_handle_t, const char *key,
 * void *out_value, size_t *length), nvs_set_blob(nvs_handle_t, const char *key,
 * const void *value, size_t length), nvs_commit(nvs_handle_t), nvs_erase_all(nvs_handle_t).
 * Errors: ESP_ERR_NVS_NOT_FOUND, ESP_ERR_NVS_INVALID_LENGTH (buffer too small),
 * ESP_ERR_NVS_NOT_ENOUGH_SPACE, ESP_ERR_NVS_VALUE_TOO_LONG.
 */
#include <string.h>

#include "kiln_port_esp32_internal.h"
#include "nvs.h"

#define KILN_NVS_NAMESPACE "kiln"

static nvs_handle_t s_nvs;
static bool s_open;

esp_err_t kiln_esp32_storage_start(void)
{
    esp_err_t err = nvs_open(KILN_NVS_NAMESPACE, NVS_READWRITE, &s_nvs);
    s_open = err == ESP_OK;
    return err;
}

kiln_port_err_t kiln_port_kv_get(const char *key, void *buf, size_t size, size_t *len)
{
    if (!s_open) {
        return KILN_PORT_ERR_FAIL;
    }
    size_t length = size;
    esp_err_t err = nvs_get_blob(s_nvs, key, buf, &length);
    if (err == ESP_ERR_NVS_NOT_FOUND) {
        return KILN_PORT_ERR_NOT_FOUND;
    }
    if (err == ESP_ERR_NVS_INVALID_LENGTH) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    if (err != ESP_OK) {
        return KILN_PORT_ERR_FAIL;
    }
    *len = length;
    return KILN_PORT_OK;
}

kiln_port_err_t kiln_port_kv_set(const char *key, const void *value, size_t len)
{
    if (!s_open || strlen(key) > KILN_PORT_KV_KEY_MAX) {
        return s_open ? KILN_PORT_ERR_TOO_LARGE : KILN_PORT_ERR_FAIL;
    }
    esp_err_t err = nvs_set_blob(s_nvs, key, value, len);
    if (err == ESP_OK) {
        err = nvs_commit(s_nvs);
    }
    if (err == ESP_ERR_NVS_NOT_ENOUGH_SPACE || err == ESP_ERR_NVS_VALUE_TOO_LONG) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    return err == ESP_OK ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}

kiln_port_err_t kiln_port_kv_erase_all(void)
{
    if (!s_open) {
        return KILN_PORT_ERR_FAIL;
    }
    esp_err_t err = nvs_erase_all(s_nvs);
    if (err == ESP_OK) {
        err = nvs_commit(s_nvs);
    }
    return err == ESP_OK ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}
