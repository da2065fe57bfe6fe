/* The scripted port of the device tests (see kiln_fake_port.h). */
#include "kiln_fake_port.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

fake_port_t g_fake;

#define KV_MAX 16
static struct {
    char key[16];
    uint8_t *value;
    size_t len;
} s_kv[KV_MAX];

static void kv_clear(void)
{
    for (size_t i = 0; i < KV_MAX; i++) {
        free(s_kv[i].value);
        memset(&s_kv[i], 0, sizeof(s_kv[i]));
    }
}

void fake_clear_output(void)
{
    for (size_t i = 0; i < g_fake.sent_count; i++) {
        free(g_fake.sent[i]);
    }
    g_fake.sent_count = 0;
    g_fake.serial_len = 0;
}

void fake_reset(void)
{
    fake_clear_output();
    kv_clear();
    memset(&g_fake, 0, sizeof(g_fake));
    g_fake.now_ms = 1000;
    g_fake.rng = 0x12345678u;
}

uint64_t kiln_port_uptime_ms(void) { return g_fake.now_ms; }

bool kiln_port_wall_time_ms(int64_t *ms)
{
    *ms = g_fake.wall_offset_ms + (int64_t)g_fake.now_ms;
    return g_fake.wall_set;
}

void kiln_port_time_sync_start(void) { g_fake.time_sync_starts++; }
void kiln_port_restart(void) { g_fake.restarts++; }

void kiln_port_identify(uint32_t seconds)
{
    g_fake.identifies++;
    g_fake.identify_seconds = seconds;
}

void kiln_port_heap(uint32_t *free_bytes, uint32_t *min_free_bytes)
{
    *free_bytes = 200000;
    *min_free_bytes = 150000;
}

bool kiln_port_chip_temperature(float *celsius)
{
    *celsius = 41.5f;
    return true;
}

void kiln_port_chip_info(kiln_port_chip_info_t *info)
{
    static const uint8_t mac[6] = {0x24, 0x0a, 0xc4, 0x00, 0x11, 0x22};
    info->chip = "esp32";
    memcpy(info->mac, mac, sizeof(mac));
}

void kiln_port_serial_write(const void *bytes, size_t len)
{
    size_t n = len < FAKE_SERIAL_MAX - g_fake.serial_len ? len : FAKE_SERIAL_MAX - g_fake.serial_len;
    memcpy(g_fake.serial + g_fake.serial_len, bytes, n);
    g_fake.serial_len += n;
}

void kiln_port_log(kiln_log_level_t level, const char *tag, const char *message)
{
    char line[512];
    static const char letters[] = "?EWID";
    int n = snprintf(line, sizeof(line), "%c (%llu) %s: %s\n", letters[level], (unsigned long long)g_fake.now_ms, tag,
                     message);
    kiln_port_serial_write(line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : 0);
}

kiln_port_err_t kiln_port_kv_get(const char *key, void *buf, size_t size, size_t *len)
{
    for (size_t i = 0; i < KV_MAX; i++) {
        if (s_kv[i].value != NULL && strcmp(s_kv[i].key, key) == 0) {
            if (s_kv[i].len > size) {
                return KILN_PORT_ERR_TOO_LARGE;
            }
            memcpy(buf, s_kv[i].value, s_kv[i].len);
            *len = s_kv[i].len;
            return KILN_PORT_OK;
        }
    }
    return KILN_PORT_ERR_NOT_FOUND;
}

kiln_port_err_t kiln_port_kv_set(const char *key, const void *value, size_t len)
{
    size_t slot = KV_MAX;
    for (size_t i = 0; i < KV_MAX; i++) {
        if (s_kv[i].value != NULL && strcmp(s_kv[i].key, key) == 0) {
            slot = i;
            break;
        }
        if (s_kv[i].value == NULL && slot == KV_MAX) {
            slot = i;
        }
    }
    if (slot == KV_MAX || strlen(key) > KILN_PORT_KV_KEY_MAX) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    free(s_kv[slot].value);
    s_kv[slot].value = malloc(len + 1u);
    memcpy(s_kv[slot].value, value, len);
    s_kv[slot].len = len;
    snprintf(s_kv[slot].key, sizeof(s_kv[slot].key), "%s", key);
    return KILN_PORT_OK;
}

kiln_port_err_t kiln_port_kv_erase_all(void)
{
    kv_clear();
    return KILN_PORT_OK;
}

void fake_kv_put(const char *key, const char *value) { (void)kiln_port_kv_set(key, value, strlen(value)); }

bool fake_kv_has(const char *key)
{
    uint8_t b[8192];
    size_t n = 0;
    return kiln_port_kv_get(key, b, sizeof(b), &n) == KILN_PORT_OK;
}

bool fake_serial_contains(const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= g_fake.serial_len; i++) {
        if (memcmp(g_fake.serial + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

kiln_port_err_t kiln_port_wifi_connect(const char *ssid, const char *password)
{
    g_fake.wifi_connects++;
    snprintf(g_fake.wifi_ssid, sizeof(g_fake.wifi_ssid), "%s", ssid);
    snprintf(g_fake.wifi_pass, sizeof(g_fake.wifi_pass), "%s", password);
    return KILN_PORT_OK;
}

void kiln_port_wifi_disconnect(void) { g_fake.wifi_disconnects++; }

bool kiln_port_wifi_rssi(int8_t *rssi)
{
    *rssi = -55;
    return true;
}

size_t kiln_port_wifi_scan(kiln_port_ap_t *aps, size_t max)
{
    if (max < 2) {
        return 0;
    }
    memset(aps, 0, 2 * sizeof(*aps));
    snprintf(aps[0].ssid, sizeof(aps[0].ssid), "KilnLab");
    aps[0].rssi = -48;
    aps[0].secure = true;
    snprintf(aps[1].ssid, sizeof(aps[1].ssid), "Guest");
    aps[1].rssi = -80;
    return 2;
}

kiln_port_err_t kiln_port_ws_open(const kiln_port_ws_config_t *config)
{
    g_fake.ws_opens++;
    snprintf(g_fake.ws_url, sizeof(g_fake.ws_url), "%s", config->url);
    snprintf(g_fake.ws_subprotocols, sizeof(g_fake.ws_subprotocols), "%s", config->subprotocols);
    snprintf(g_fake.ws_ca_key, sizeof(g_fake.ws_ca_key), "%s", config->ca_kv_key != NULL ? config->ca_kv_key : "");
    return g_fake.ws_open_fails ? KILN_PORT_ERR_FAIL : KILN_PORT_OK;
}

kiln_port_err_t kiln_port_ws_send_text(const char *text, size_t len)
{
    if (g_fake.send_fails || g_fake.sent_count == FAKE_SENT_MAX) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    char *copy = malloc(len + 1u);
    memcpy(copy, text, len);
    copy[len] = '\0';
    g_fake.sent[g_fake.sent_count++] = copy;
    return KILN_PORT_OK;
}

void kiln_port_ws_close(uint16_t code)
{
    g_fake.ws_closes++;
    g_fake.ws_close_code = code;
}
