/* What the device keeps in storage (NVS on the chip, a file on the host): Wi-Fi
 * credentials, gateway URL, CA certificate, device id, private key, revoked flag. */
#include <string.h>

#include "kiln_device_internal.h"
#include "kiln_format.h"

/* A string value into buf (NUL-terminated); empty when absent or too long. */
static void load_str(const char *key, char *buf, size_t size)
{
    size_t len = 0;
    if (kiln_port_kv_get(key, buf, size - 1u, &len) != KILN_PORT_OK) {
        len = 0;
    }
    buf[len] = '\0';
}

void kiln_settings_load(kiln_settings_t *s)
{
    memset(s, 0, sizeof(*s));
    load_str(KILN_KV_WIFI_SSID, s->ssid, sizeof(s->ssid));
    load_str(KILN_KV_WIFI_PASS, s->pass, sizeof(s->pass));
    load_str(KILN_KV_GATEWAY, s->url, sizeof(s->url));
    load_str(KILN_KV_DEVICE_ID, s->device_id, sizeof(s->device_id));
    if (!kiln_is_device_id(s->device_id, strlen(s->device_id))) {
        s->device_id[0] = '\0';
    }
    size_t len = 0;
    s->has_key = kiln_port_kv_get(KILN_KV_KEY, s->key, sizeof(s->key), &len) == KILN_PORT_OK && len == sizeof(s->key);
    char probe[1];
    kiln_port_err_t ca = kiln_port_kv_get(KILN_KV_CA, probe, sizeof(probe), &len);
    s->has_ca = (ca == KILN_PORT_OK && len > 0) || ca == KILN_PORT_ERR_TOO_LARGE; /* empty: cleared */
    uint8_t revoked = 0;
    s->revoked = kiln_port_kv_get(KILN_KV_REVOKED, &revoked, 1, &len) == KILN_PORT_OK && len == 1 && revoked == 1;
}

kiln_err_t kiln_settings_save_str(const char *key, const char *value)
{
    return kiln_port_kv_set(key, value, strlen(value)) == KILN_PORT_OK ? KILN_OK : KILN_ERR_PORT;
}

kiln_err_t kiln_settings_save_flag(const char *key, bool value)
{
    uint8_t v = value ? 1 : 0;
    return kiln_port_kv_set(key, &v, 1) == KILN_PORT_OK ? KILN_OK : KILN_ERR_PORT;
}

bool kiln_settings_provisioned(const kiln_settings_t *s, kiln_reason_t *missing)
{
    kiln_reason_t r = s->ssid[0] == '\0'      ? KILN_REASON_NO_WIFI_CREDENTIALS
                      : s->device_id[0] == '\0' ? KILN_REASON_NO_DEVICE_ID
                      : !s->has_key             ? KILN_REASON_NO_KEY
                      : s->url[0] == '\0'       ? KILN_REASON_NO_GATEWAY
                                                : KILN_REASON_NONE;
    if (missing != NULL) {
        *missing = r;
    }
    return r == KILN_REASON_NONE;
}

void kiln_settings_audience(const char *url, char *out, size_t size)
{
    /* scheme://authority, without path, query or fragment. */
    const char *sep = strstr(url, "://");
    size_t end = strlen(url);
    if (sep != NULL) {
        const char *p = sep + 3;
        size_t n = strcspn(p, "/?#");
        end = (size_t)(p - url) + n;
    }
    if (end >= size) {
        end = size - 1u;
    }
    memcpy(out, url, end);
    out[end] = '\0';
}
