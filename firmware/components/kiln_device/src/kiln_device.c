/* The device's lifecycle (see kiln_device.h): configuration, start, the built-in metrics,
 * names, counters and the log. The state machine and its timers are kiln_device_fsm.c, the
 * kiln.v1 session (what is said once connected) kiln_session.c, the serial side
 * kiln_device_serial.c. */
#include "kiln_device.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kiln_device_internal.h"
#include "kiln_jwt.h"
#include "kiln_protocol.h"

static const char TAG[] = "kiln";
static kiln_device_t s_device;

static const char *const STATE_NAMES[] = {"unprovisioned", "wifi_connecting", "time_sync",
                                          "gateway_connecting", "online", "error"};
static const char *const REASON_NAMES[] = {
    "", "no_wifi_credentials", "no_device_id", "no_key", "no_gateway", "wifi_no_ap_found", "wifi_auth_failed",
    "wifi_failed", "connecting", "awaiting_welcome", "gateway_unreachable", "gateway_closed", "revoked",
    "clock_not_set", "internal"};

const char *kiln_device_state_name(kiln_state_t state)
{
    return (unsigned)state < sizeof(STATE_NAMES) / sizeof(STATE_NAMES[0]) ? STATE_NAMES[state] : "unknown";
}

const char *kiln_device_reason_name(kiln_reason_t reason)
{
    return (unsigned)reason < sizeof(REASON_NAMES) / sizeof(REASON_NAMES[0]) ? REASON_NAMES[reason] : "unknown";
}

void kiln_device_config_default(kiln_device_config_t *c)
{
    memset(c, 0, sizeof(*c));
    c->telemetry_interval_ms = 10000;
    c->heartbeat_interval_ms = 60000;
    c->ws_ping_interval_sec = 30;
    c->ws_pong_timeout_sec = 90;
    c->ws_network_timeout_ms = 10000;
    c->welcome_timeout_ms = 15000;
    c->wifi_connect_timeout_ms = 30000;
    c->jwt_lifetime_sec = 120;
    c->gateway_backoff = (kiln_backoff_config_t){
        .base_ms = 1000, .cap_ms = 60000, .stable_ms = 60000, .restart_cap_ms = 2000, .restart_attempts = 15};
    c->wifi_backoff = (kiln_backoff_config_t){.base_ms = 1000, .cap_ms = 30000, .stable_ms = 60000};
    c->ring_capacity = KILN_TELEMETRY_RING_MAX;
    c->max_batch = 16;
}

void kiln_dev_log(kiln_device_t *dev, kiln_log_level_t level, const char *fmt, ...)
{
    (void)dev;
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    kiln_port_log(level, TAG, line);
}

uint32_t kiln_dev_random_u32(void)
{
    uint32_t r = 0;
    if (kiln_port_random(&r, sizeof(r)) != KILN_PORT_OK) {
        r = (uint32_t)kiln_port_uptime_ms() * 2654435761u; /* still spreads a fleet out */
    }
    return r;
}

/* --- built-in metrics ---------------------------------------------------------------- */

static bool metric_uptime(void *ctx, double *v)
{
    (void)ctx;
    *v = (double)kiln_port_uptime_ms();
    return true;
}
static bool metric_heap_free(void *ctx, double *v)
{
    uint32_t free_b = 0, min_b = 0;
    kiln_port_heap(&free_b, &min_b);
    *v = ctx != NULL ? (double)min_b : (double)free_b;
    return true;
}
static bool metric_rssi(void *ctx, double *v)
{
    int8_t rssi = 0;
    bool ok = ((kiln_device_t *)ctx)->wifi == LINK_UP && kiln_port_wifi_rssi(&rssi);
    *v = rssi;
    return ok;
}
static bool metric_reconnects(void *ctx, double *v)
{
    *v = ((kiln_device_t *)ctx)->reconnects;
    return true;
}
static bool metric_dropped(void *ctx, double *v)
{
    *v = ((kiln_device_t *)ctx)->telemetry.dropped;
    return true;
}
static bool metric_temperature(void *ctx, double *v)
{
    (void)ctx;
    float c = 0;
    bool ok = kiln_port_chip_temperature(&c);
    *v = c;
    return ok;
}

/* --- start ------------------------------------------------------------------------------ */

kiln_device_t *kiln_device_start(const kiln_device_config_t *config)
{
    if (config == NULL || config->fw_name == NULL || config->fw_version == NULL || config->fw_name[0] == '\0' ||
        config->fw_version[0] == '\0' || strlen(config->fw_name) > 31 || strlen(config->fw_version) > 31) {
        return NULL;
    }
    kiln_device_t *dev = &s_device;
    memset(dev, 0, sizeof(*dev));
    dev->cfg = *config;
    if (dev->cfg.jwt_lifetime_sec == 0 || dev->cfg.jwt_lifetime_sec > KILN_JWT_LIFETIME_MAX_SEC) {
        dev->cfg.jwt_lifetime_sec = KILN_JWT_LIFETIME_MAX_SEC;
    }
    dev->max_batch = config->max_batch == 0 ? 1 : config->max_batch > 64 ? 64 : config->max_batch;
    dev->telemetry_ms = config->telemetry_interval_ms == 0 ? 10000 : config->telemetry_interval_ms;
    dev->heartbeat_ms = config->heartbeat_interval_ms == 0 ? 60000 : config->heartbeat_interval_ms;
    kiln_backoff_init(&dev->wifi_backoff, &config->wifi_backoff);
    kiln_backoff_init(&dev->gateway_backoff, &config->gateway_backoff);
    kiln_telemetry_init(&dev->telemetry, config->ring_capacity);

    uint8_t boot[8];
    if (kiln_port_random(boot, sizeof(boot)) != KILN_PORT_OK) {
        memset(boot, 0, sizeof(boot));
    }
    for (size_t i = 0; i < sizeof(boot); i++) {
        snprintf(dev->boot_id + 2 * i, 3, "%02x", boot[i]);
    }
    kiln_port_chip_info_t chip;
    kiln_port_chip_info(&chip);
    dev->chip = chip.chip;
    snprintf(dev->mac, sizeof(dev->mac), "%02x:%02x:%02x:%02x:%02x:%02x", chip.mac[0], chip.mac[1], chip.mac[2],
             chip.mac[3], chip.mac[4], chip.mac[5]);

    kiln_telemetry_add_source(&dev->telemetry, "uptime_ms", metric_uptime, NULL);
    kiln_telemetry_add_source(&dev->telemetry, "heap_free", metric_heap_free, NULL);
    kiln_telemetry_add_source(&dev->telemetry, "heap_min_free", metric_heap_free, dev);
    kiln_telemetry_add_source(&dev->telemetry, "wifi_rssi", metric_rssi, dev);
    kiln_telemetry_add_source(&dev->telemetry, "reconnects", metric_reconnects, dev);
    kiln_telemetry_add_source(&dev->telemetry, "telemetry_dropped", metric_dropped, dev);
    kiln_telemetry_add_source(&dev->telemetry, "chip_temp_c", metric_temperature, NULL);

    kiln_dev_serial_init(dev);
    kiln_settings_load(&dev->settings);
    uint64_t now = kiln_port_uptime_ms();
    dev->next_sample_ms = now + dev->telemetry_ms;
    kiln_dev_log(dev, KILN_LOG_INFO, "%s %s, protocol %s, boot %s, device id %s", config->fw_name,
                 config->fw_version, KILN_PROTOCOL_VERSION, dev->boot_id,
                 dev->settings.device_id[0] != '\0' ? dev->settings.device_id : "(none)");
    dev->state = KILN_STATE_UNPROVISIONED;
    dev->reason = KILN_REASON_NONE;
    kiln_dev_advance(dev);
    return dev;
}

kiln_state_t kiln_device_state(const kiln_device_t *dev) { return dev->state; }
kiln_reason_t kiln_device_reason(const kiln_device_t *dev) { return dev->reason; }

kiln_err_t kiln_device_add_metric(kiln_device_t *dev, const char *name, kiln_metric_read_t read, void *ctx)
{
    return dev == NULL ? KILN_ERR_INVALID_ARG : kiln_telemetry_add_source(&dev->telemetry, name, read, ctx);
}

void kiln_device_stats(const kiln_device_t *dev, kiln_device_stats_t *st)
{
    memset(st, 0, sizeof(*st));
    st->seq = dev->seq;
    st->samples = dev->telemetry.created;
    st->dropped = dev->telemetry.dropped;
    st->acked = dev->telemetry.acked;
    st->queued = kiln_telemetry_pending(&dev->telemetry);
    st->reconnects = dev->reconnects;
    st->connect_attempts = dev->connect_attempts;
    st->last_backoff_ms = dev->last_backoff_ms;
}
