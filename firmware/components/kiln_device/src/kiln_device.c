/* The device state machine and its timers (see kiln_device.h). The kiln.v1 session
 * (what is said once connected) is kiln_session.c; the serial side kiln_device_serial.c. */
#include "kiln_device.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kiln_device_internal.h"
#include "kiln_jwt.h"
#include "kiln_protocol.h"
#include "kiln_session.h"

static const char *TAG = "kiln";
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
    c->gateway_backoff = (kiln_backoff_config_t){.base_ms = 1000, .cap_ms = 60000, .stable_ms = 60000};
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

static void set_state(kiln_device_t *dev, kiln_state_t state, kiln_reason_t reason)
{
    if (dev->state == state && dev->reason == reason) {
        return;
    }
    dev->state = state;
    dev->reason = reason;
    kiln_dev_log(dev, state == KILN_STATE_ERROR ? KILN_LOG_ERROR : KILN_LOG_INFO, "state %s%s%s",
                 kiln_device_state_name(state), reason == KILN_REASON_NONE ? "" : ", reason ",
                 kiln_device_reason_name(reason));
}

static uint32_t random_u32(void)
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

/* --- the state machine ---------------------------------------------------------------- */

void kiln_dev_wifi_connect(kiln_device_t *dev)
{
    dev->wifi = LINK_CONNECTING;
    if (kiln_port_wifi_connect(dev->settings.ssid, dev->settings.pass) != KILN_PORT_OK) {
        dev->wifi = LINK_DOWN;
        dev->next_wifi_ms = kiln_port_uptime_ms() + kiln_backoff_next(&dev->wifi_backoff, random_u32());
        kiln_dev_log(dev, KILN_LOG_WARN, "Wi-Fi connect could not start");
    }
}

static void gateway_connect(kiln_device_t *dev)
{
    int64_t wall_ms = 0;
    if (!kiln_port_wall_time_ms(&wall_ms)) {
        set_state(dev, KILN_STATE_TIME_SYNC, KILN_REASON_CLOCK);
        return;
    }
    char audience[KILN_URL_MAX + 1];
    kiln_settings_audience(dev->settings.url, audience, sizeof(audience));
    kiln_jwt_params_t params = {.device_id = dev->settings.device_id, .audience = audience,
                                .iat = wall_ms / 1000, .lifetime_sec = dev->cfg.jwt_lifetime_sec};
    /* "kiln.v1, kiln.jwt." + token: built in tx, which is free while no session is open. */
    static const char prefix[] = KILN_PROTOCOL_VERSION ", kiln.jwt.";
    size_t len = 0;
    memcpy(dev->tx, prefix, sizeof(prefix) - 1u);
    kiln_err_t err = kiln_jwt_create(&params, dev->settings.key, dev->tx + sizeof(prefix) - 1u,
                                     sizeof(dev->tx) - sizeof(prefix), &len);
    if (err != KILN_OK) {
        kiln_dev_log(dev, KILN_LOG_ERROR, "cannot make a device token: %s", kiln_err_name(err));
        set_state(dev, KILN_STATE_ERROR, KILN_REASON_INTERNAL);
        return;
    }
    kiln_port_ws_config_t ws = {.url = dev->settings.url, .subprotocols = dev->tx,
                                .ca_kv_key = dev->settings.has_ca ? KILN_KV_CA : NULL,
                                .ping_interval_sec = dev->cfg.ws_ping_interval_sec,
                                .pingpong_timeout_sec = dev->cfg.ws_pong_timeout_sec,
                                .network_timeout_ms = dev->cfg.ws_network_timeout_ms};
    dev->connect_attempts++;
    kiln_dev_log(dev, KILN_LOG_INFO, "connecting to %s (attempt %" PRIu32 ")", dev->settings.url,
                 kiln_backoff_attempts(&dev->gateway_backoff) + 1u);
    dev->ws = LINK_CONNECTING;
    dev->ws_opened_ms = kiln_port_uptime_ms();
    set_state(dev, KILN_STATE_GATEWAY_CONNECTING, KILN_REASON_CONNECTING);
    if (kiln_port_ws_open(&ws) != KILN_PORT_OK) {
        dev->ws = LINK_DOWN;
        dev->last_backoff_ms = kiln_backoff_next(&dev->gateway_backoff, random_u32());
        dev->next_gateway_ms = kiln_port_uptime_ms() + dev->last_backoff_ms;
        set_state(dev, KILN_STATE_GATEWAY_CONNECTING, KILN_REASON_GATEWAY_UNREACHABLE);
    }
    memset(dev->tx, 0, sizeof(prefix) + len); /* the token is a credential: do not keep it */
}

void kiln_dev_advance(kiln_device_t *dev)
{
    kiln_settings_t *s = &dev->settings;
    uint64_t now = kiln_port_uptime_ms();
    kiln_reason_t missing = KILN_REASON_NONE;
    bool provisioned = kiln_settings_provisioned(s, &missing);
    if (s->revoked) {
        set_state(dev, KILN_STATE_ERROR, KILN_REASON_REVOKED);
    } else if (dev->improv_pending) {
        set_state(dev, KILN_STATE_WIFI_CONNECTING, KILN_REASON_CONNECTING);
    } else if (s->ssid[0] == '\0') {
        set_state(dev, KILN_STATE_UNPROVISIONED,
                  dev->improv_failure != KILN_REASON_NONE ? dev->improv_failure : KILN_REASON_NO_WIFI_CREDENTIALS);
    } else if (dev->wifi != LINK_UP) {
        if (dev->wifi == LINK_DOWN && now >= dev->next_wifi_ms) {
            kiln_dev_wifi_connect(dev);
        }
        if (dev->state != KILN_STATE_WIFI_CONNECTING) {
            set_state(dev, KILN_STATE_WIFI_CONNECTING, KILN_REASON_CONNECTING);
        }
    } else if (!dev->time_synced) {
        set_state(dev, KILN_STATE_TIME_SYNC, KILN_REASON_NONE);
    } else if (!provisioned) {
        set_state(dev, KILN_STATE_UNPROVISIONED, missing);
    } else if (dev->ws == LINK_UP) {
        if (dev->welcomed) {
            set_state(dev, KILN_STATE_ONLINE, KILN_REASON_NONE);
        }
    } else if (dev->ws == LINK_DOWN && now >= dev->next_gateway_ms) {
        gateway_connect(dev);
    }
}

void kiln_dev_settings_changed(kiln_device_t *dev)
{
    /* New provisioning data: a revoked device may try again, at once. */
    dev->settings.revoked = false;
    (void)kiln_settings_save_flag(KILN_KV_REVOKED, false);
    kiln_backoff_reset(&dev->gateway_backoff);
    dev->next_gateway_ms = 0;
    if (dev->ws != LINK_DOWN) {
        kiln_port_ws_close(1000); /* reconnects with the new settings once closed */
    }
    kiln_dev_advance(dev);
}

void kiln_dev_factory_reset(kiln_device_t *dev)
{
    kiln_dev_log(dev, KILN_LOG_WARN, "factory reset: erasing settings and keys");
    if (dev->ws != LINK_DOWN) {
        kiln_port_ws_close(1000);
    }
    kiln_port_wifi_disconnect();
    (void)kiln_port_kv_erase_all();
    kiln_settings_load(&dev->settings);
    dev->wifi = LINK_DOWN;
    dev->improv_pending = false;
    kiln_dev_advance(dev);
}

void kiln_dev_take_sample(kiln_device_t *dev)
{
    if (kiln_telemetry_take(&dev->telemetry, kiln_port_uptime_ms(), &dev->seq) != NULL) {
        kiln_session_flush(dev);
    }
}

static kiln_reason_t wifi_reason(int code)
{
    switch (code) {
    case KILN_WIFI_REASON_NO_AP_FOUND:
        return KILN_REASON_WIFI_NO_AP;
    case KILN_WIFI_REASON_AUTH_EXPIRE:
    case KILN_WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT:
    case KILN_WIFI_REASON_AUTH_FAIL:
    case KILN_WIFI_REASON_HANDSHAKE_TIMEOUT:
        return KILN_REASON_WIFI_AUTH_FAILED;
    default:
        return KILN_REASON_WIFI_FAILED;
    }
}

static void on_wifi(kiln_device_t *dev, const kiln_port_event_t *e)
{
    uint64_t now = kiln_port_uptime_ms();
    if (e->kind == KILN_PORT_EVENT_WIFI_CONNECTED) {
        dev->wifi = LINK_UP;
        kiln_backoff_connected(&dev->wifi_backoff, now);
        kiln_dev_log(dev, KILN_LOG_INFO, "Wi-Fi connected to \"%s\"", dev->settings.ssid);
        if (dev->improv_pending) {
            kiln_dev_improv_wifi_result(dev, true);
            dev->improv_failure = KILN_REASON_NONE;
        }
        if (!dev->time_synced) {
            kiln_port_time_sync_start();
        }
        return;
    }
    bool was_up = dev->wifi == LINK_UP;
    dev->wifi = LINK_DOWN;
    kiln_reason_t reason = wifi_reason(e->code);
    kiln_dev_log(dev, KILN_LOG_WARN, "Wi-Fi %s \"%s\": reason %d (%s)", was_up ? "lost" : "could not connect to",
                 dev->settings.ssid, e->code, kiln_device_reason_name(reason));
    if (was_up) {
        kiln_backoff_disconnected(&dev->wifi_backoff, now);
    }
    if (dev->ws != LINK_DOWN) {
        kiln_port_ws_close(1001);
    }
    if (dev->improv_pending) {
        kiln_dev_improv_wifi_result(dev, false); /* restores the previous credentials */
        dev->improv_failure = reason;
        if (dev->settings.ssid[0] == '\0') {
            set_state(dev, KILN_STATE_UNPROVISIONED, reason);
            return;
        }
    }
    dev->next_wifi_ms = now + kiln_backoff_next(&dev->wifi_backoff, random_u32());
    set_state(dev, KILN_STATE_WIFI_CONNECTING, reason);
}

void kiln_device_event(kiln_device_t *dev, const kiln_port_event_t *e)
{
    if (dev == NULL || e == NULL) {
        return;
    }
    switch (e->kind) {
    case KILN_PORT_EVENT_WIFI_CONNECTED:
    case KILN_PORT_EVENT_WIFI_DISCONNECTED:
        on_wifi(dev, e);
        break;
    case KILN_PORT_EVENT_TIME_SYNCED:
        if (!dev->time_synced) {
            kiln_dev_log(dev, KILN_LOG_INFO, "time synced");
        }
        dev->time_synced = true;
        break;
    case KILN_PORT_EVENT_WS_OPEN:
    case KILN_PORT_EVENT_WS_TEXT:
    case KILN_PORT_EVENT_WS_CLOSED:
        kiln_session_event(dev, e);
        if (dev->state == KILN_STATE_ERROR || dev->ws != LINK_DOWN) {
            return; /* the session set the state */
        }
        break;
    }
    kiln_dev_advance(dev);
}

uint32_t kiln_device_tick(kiln_device_t *dev)
{
    if (dev == NULL) {
        return 1000;
    }
    uint64_t now = kiln_port_uptime_ms();
    if (dev->reboot_at_ms != 0 && now >= dev->reboot_at_ms) {
        kiln_dev_log(dev, KILN_LOG_WARN, "rebooting");
        dev->reboot_at_ms = 0;
        kiln_port_restart();
    }
    if (dev->improv_pending && now >= dev->improv_deadline_ms) {
        kiln_port_wifi_disconnect();
        kiln_port_event_t timeout = {.kind = KILN_PORT_EVENT_WIFI_DISCONNECTED,
                                     .code = KILN_WIFI_REASON_CONNECTION_FAIL};
        on_wifi(dev, &timeout);
    }
    if (now >= dev->next_sample_ms) {
        dev->next_sample_ms = now + dev->telemetry_ms;
        kiln_dev_take_sample(dev);
    }
    kiln_session_tick(dev, now);
    kiln_dev_advance(dev);
    uint64_t next = now + 1000u;
    uint64_t deadlines[] = {dev->next_sample_ms, dev->wifi == LINK_DOWN ? dev->next_wifi_ms : next,
                            dev->ws == LINK_DOWN ? dev->next_gateway_ms : next};
    for (size_t i = 0; i < sizeof(deadlines) / sizeof(deadlines[0]); i++) {
        next = deadlines[i] < next ? deadlines[i] : next;
    }
    return next <= now ? 0u : (uint32_t)(next - now);
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
