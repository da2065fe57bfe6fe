/*
 * Host port, device services (kiln_port_sys.h) for the kiln-device executable:
 * monotonic and wall clocks, a key-value FILE standing in for NVS (one
 * "key hex-value" line per key, rewritten atomically; the narrow kv API is all the
 * core sees, so an NVS-partition backend can replace it), simulated Wi-Fi (networks
 * in range given as ssid:psk pairs; a wrong PSK fails as the ESP-IDF driver does,
 * with reason 15, 4WAY_HANDSHAKE_TIMEOUT), simulated RSSI and temperature, and the
 * serial output. Single-threaded: only the main loop calls in here.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kiln_port_host_internal.h"

#define KV_MAX 32
#define KV_VALUE_MAX 8192
#define NETS_MAX 8
#define EVENTS_MAX 64
#define WIFI_CONNECT_DELAY_MS 150
#define SNTP_DELAY_MS 50

static host_options_t s_opt;
static uint64_t s_boot_ns;
static struct {
    char key[KILN_PORT_KV_KEY_MAX + 1];
    uint8_t *value;
    size_t len;
} s_kv[KV_MAX];
static struct {
    char ssid[33];
    char psk[65];
    int rssi;
} s_nets[NETS_MAX];
static size_t s_net_count;
static struct {
    int connecting;           /* 1 while an attempt is pending */
    uint64_t due_ms;
    char ssid[33];
    char psk[65];
    int connected_net;        /* index, or -1 */
    int sntp_pending;
    uint64_t sntp_due_ms;
    int synced;
} s_wifi = {.connected_net = -1};
static struct {
    kiln_port_event_kind_t kind;
    int code;
    char *text;
    size_t len;
} s_events[EVENTS_MAX];
static size_t s_ev_head, s_ev_count;
static char *s_ev_current;

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t kiln_port_uptime_ms(void) { return (mono_ns() - s_boot_ns) / 1000000u; }

bool kiln_port_wall_time_ms(int64_t *ms)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    *ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    return s_wifi.synced != 0;
}

void kiln_port_time_sync_start(void)
{
    s_wifi.sntp_pending = 1;
    s_wifi.sntp_due_ms = kiln_port_uptime_ms() + SNTP_DELAY_MS;
}

void kiln_port_restart(void)
{
    /* A reboot: the same executable starts over with the same arguments and NVS file. */
    host_ws_shutdown();
    execv("/proc/self/exe", s_opt.argv);
    perror("kiln-device: reboot (execv) failed");
    _exit(1);
}

void kiln_port_identify(uint32_t seconds)
{
    /* No LED on a host: the line a bench (and the virtual board's console) sees instead. The tag
     * and text are the esp32 port's, so a HIL suite expects the same line on a chip. */
    char message[64];
    snprintf(message, sizeof(message), "identify: blinking for %" PRIu32 " s", seconds);
    kiln_port_log(KILN_LOG_INFO, "kiln", message);
}

void kiln_port_heap(uint32_t *free_bytes, uint32_t *min_free_bytes)
{
    /* A simulated ESP32 heap: 300 KiB, shrinking a little with uptime noise. */
    static uint32_t min_seen = UINT32_MAX;
    uint32_t f = 300u * 1024u - (uint32_t)(kiln_port_uptime_ms() / 1000u % 4096u);
    min_seen = f < min_seen ? f : min_seen;
    *free_bytes = f;
    *min_free_bytes = min_seen;
}

bool kiln_port_chip_temperature(float *celsius)
{
    *celsius = 42.0f + 1.5f * (float)sin((double)kiln_port_uptime_ms() / 60000.0);
    return true;
}

void kiln_port_chip_info(kiln_port_chip_info_t *info)
{
    info->chip = s_opt.chip != NULL ? s_opt.chip : "esp32";
    unsigned m[6] = {0x24, 0x0a, 0xc4, 0, 0, 1};
    if (s_opt.mac == NULL || sscanf(s_opt.mac, "%2x:%2x:%2x:%2x:%2x:%2x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6) {
        /* Stable per NVS file, like a chip's eFuse MAC. */
        uint32_t h = 2166136261u;
        for (const char *p = s_opt.nvs_path; p != NULL && *p != '\0'; p++) {
            h = (h ^ (uint8_t)*p) * 16777619u;
        }
        m[3] = (h >> 16) & 0xff;
        m[4] = (h >> 8) & 0xff;
        m[5] = h & 0xff;
    }
    for (int i = 0; i < 6; i++) {
        info->mac[i] = (uint8_t)m[i];
    }
}

void kiln_port_serial_write(const void *bytes, size_t len)
{
    const uint8_t *p = bytes;
    while (len > 0) {
        ssize_t n = write(s_opt.serial_out_fd, p, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return; /* the reader went away; a UART would drop the bytes too */
        }
        p += n;
        len -= (size_t)n;
    }
}

void kiln_port_log(kiln_log_level_t level, const char *tag, const char *message)
{
    static const char letters[] = "?EWID";
    char line[512];
    int n = snprintf(line, sizeof(line), "%c (%llu) %s: %s\n", letters[level > 4 ? 0 : level],
                     (unsigned long long)kiln_port_uptime_ms(), tag, message);
    if (n > (int)sizeof(line) - 1) {
        n = (int)sizeof(line) - 1;
        line[n - 1] = '\n';
    }
    kiln_port_serial_write(line, n > 0 ? (size_t)n : 0);
}

/* --- the key-value file ---------------------------------------------------------- */

static int kv_find(const char *key)
{
    for (int i = 0; i < KV_MAX; i++) {
        if (s_kv[i].value != NULL && strcmp(s_kv[i].key, key) == 0) {
            return i;
        }
    }
    return -1;
}

static bool kv_save(void)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", s_opt.nvs_path);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return false;
    }
    for (int i = 0; i < KV_MAX; i++) {
        if (s_kv[i].value == NULL) {
            continue;
        }
        fprintf(f, "%s ", s_kv[i].key);
        for (size_t j = 0; j < s_kv[i].len; j++) {
            fprintf(f, "%02x", s_kv[i].value[j]);
        }
        fputc('\n', f);
    }
    bool ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = fclose(f) == 0 && ok;
    return ok && rename(tmp, s_opt.nvs_path) == 0;
}

static void kv_load(void)
{
    FILE *f = fopen(s_opt.nvs_path, "r");
    if (f == NULL) {
        return;
    }
    static char line[2 * KV_VALUE_MAX + 64];
    int slot = 0;
    while (slot < KV_MAX && fgets(line, sizeof(line), f) != NULL) {
        char *sp = strchr(line, ' ');
        if (sp == NULL || sp - line > KILN_PORT_KV_KEY_MAX || sp == line) {
            continue;
        }
        *sp = '\0';
        size_t hex = strcspn(sp + 1, "\r\n");
        s_kv[slot].value = malloc(hex / 2 + 1);
        if (s_kv[slot].value == NULL) {
            break;
        }
        for (size_t j = 0; j < hex / 2; j++) {
            unsigned b = 0;
            sscanf(sp + 1 + 2 * j, "%2x", &b);
            s_kv[slot].value[j] = (uint8_t)b;
        }
        s_kv[slot].len = hex / 2;
        memcpy(s_kv[slot].key, line, (size_t)(sp - line) + 1u); /* checked: at most 15 + NUL */
        slot++;
    }
    fclose(f);
}

kiln_port_err_t kiln_port_kv_get(const char *key, void *buf, size_t size, size_t *len)
{
    int i = kv_find(key);
    if (i < 0) {
        return KILN_PORT_ERR_NOT_FOUND;
    }
    if (s_kv[i].len > size) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    memcpy(buf, s_kv[i].value, s_kv[i].len);
    *len = s_kv[i].len;
    return KILN_PORT_OK;
}

kiln_port_err_t kiln_port_kv_set(const char *key, const void *value, size_t len)
{
    if (strlen(key) > KILN_PORT_KV_KEY_MAX || len > KV_VALUE_MAX) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    int i = kv_find(key);
    for (int j = 0; i < 0 && j < KV_MAX; j++) {
        i = s_kv[j].value == NULL ? j : -1;
    }
    if (i < 0) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    uint8_t *copy = malloc(len + 1u);
    if (copy == NULL) {
        return KILN_PORT_ERR_FAIL;
    }
    memcpy(copy, value, len);
    free(s_kv[i].value);
    s_kv[i].value = copy;
    s_kv[i].len = len;
    snprintf(s_kv[i].key, sizeof(s_kv[i].key), "%s", key);
    return kv_save() ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}

kiln_port_err_t kiln_port_kv_erase_all(void)
{
    for (int i = 0; i < KV_MAX; i++) {
        free(s_kv[i].value);
        memset(&s_kv[i], 0, sizeof(s_kv[i]));
    }
    return kv_save() ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}

/* --- simulated Wi-Fi ------------------------------------------------------------------ */

static void parse_networks(const char *spec)
{
    char buf[1024];
    snprintf(buf, sizeof(buf), "%s", spec != NULL ? spec : "");
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item != NULL && s_net_count < NETS_MAX;
         item = strtok_r(NULL, ",", &save)) {
        char *colon = strchr(item, ':');
        if (colon == NULL) {
            continue;
        }
        *colon = '\0';
        char *rssi = strchr(colon + 1, ':');
        if (rssi != NULL) {
            *rssi++ = '\0';
        }
        snprintf(s_nets[s_net_count].ssid, sizeof(s_nets[0].ssid), "%s", item);
        snprintf(s_nets[s_net_count].psk, sizeof(s_nets[0].psk), "%s", colon + 1);
        s_nets[s_net_count].rssi = rssi != NULL ? atoi(rssi) : -52 - 7 * (int)s_net_count;
        s_net_count++;
    }
}

kiln_port_err_t kiln_port_wifi_connect(const char *ssid, const char *password)
{
    s_wifi.connected_net = -1;
    s_wifi.connecting = 1;
    s_wifi.due_ms = kiln_port_uptime_ms() + WIFI_CONNECT_DELAY_MS;
    snprintf(s_wifi.ssid, sizeof(s_wifi.ssid), "%s", ssid);
    snprintf(s_wifi.psk, sizeof(s_wifi.psk), "%s", password);
    return KILN_PORT_OK;
}

void kiln_port_wifi_disconnect(void)
{
    s_wifi.connecting = 0;
    s_wifi.connected_net = -1;
}

bool kiln_port_wifi_rssi(int8_t *rssi)
{
    if (s_wifi.connected_net < 0) {
        return false;
    }
    int jitter = (int)(kiln_port_uptime_ms() / 1000u % 5u) - 2;
    *rssi = (int8_t)(s_nets[s_wifi.connected_net].rssi + jitter);
    return true;
}

size_t kiln_port_wifi_scan(kiln_port_ap_t *aps, size_t max)
{
    size_t n = 0;
    for (; n < s_net_count && n < max; n++) {
        memset(&aps[n], 0, sizeof(aps[n]));
        snprintf(aps[n].ssid, sizeof(aps[n].ssid), "%s", s_nets[n].ssid);
        aps[n].rssi = (int8_t)s_nets[n].rssi;
        aps[n].secure = s_nets[n].psk[0] != '\0';
    }
    return n;
}

/* --- events --------------------------------------------------------------------------- */

void host_event_push(kiln_port_event_kind_t kind, int code, const char *text, size_t len)
{
    if (s_ev_count == EVENTS_MAX) {
        fprintf(stderr, "kiln-device: event queue full, dropping event %d\n", (int)kind);
        return;
    }
    size_t i = (s_ev_head + s_ev_count++) % EVENTS_MAX;
    s_events[i].kind = kind;
    s_events[i].code = code;
    s_events[i].text = NULL;
    s_events[i].len = 0;
    if (text != NULL) {
        s_events[i].text = malloc(len + 1u);
        if (s_events[i].text != NULL) {
            memcpy(s_events[i].text, text, len);
            s_events[i].text[len] = '\0';
            s_events[i].len = len;
        }
    }
}

bool host_event_pop(kiln_port_event_t *e)
{
    free(s_ev_current);
    s_ev_current = NULL;
    if (s_ev_count == 0) {
        return false;
    }
    size_t i = s_ev_head;
    s_ev_head = (s_ev_head + 1) % EVENTS_MAX;
    s_ev_count--;
    s_ev_current = s_events[i].text;
    *e = (kiln_port_event_t){.kind = s_events[i].kind, .code = s_events[i].code, .text = s_events[i].text,
                             .len = s_events[i].len};
    return true;
}

void host_sys_poll(void)
{
    uint64_t now = kiln_port_uptime_ms();
    if (s_wifi.connecting && now >= s_wifi.due_ms) {
        s_wifi.connecting = 0;
        int found = -1;
        for (size_t i = 0; i < s_net_count; i++) {
            if (strcmp(s_nets[i].ssid, s_wifi.ssid) == 0) {
                found = (int)i;
            }
        }
        if (found < 0) {
            host_event_push(KILN_PORT_EVENT_WIFI_DISCONNECTED, KILN_WIFI_REASON_NO_AP_FOUND, NULL, 0);
        } else if (strcmp(s_nets[found].psk, s_wifi.psk) != 0) {
            host_event_push(KILN_PORT_EVENT_WIFI_DISCONNECTED, KILN_WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT, NULL, 0);
        } else {
            s_wifi.connected_net = found;
            host_event_push(KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL, 0);
        }
    }
    if (s_wifi.sntp_pending && s_wifi.connected_net >= 0 && now >= s_wifi.sntp_due_ms) {
        s_wifi.sntp_pending = 0;
        s_wifi.synced = 1;
        host_event_push(KILN_PORT_EVENT_TIME_SYNCED, 0, NULL, 0);
    }
}

bool host_sys_init(const host_options_t *options)
{
    s_opt = *options;
    s_boot_ns = mono_ns();
    parse_networks(options->wifi);
    kv_load();
    return true;
}
