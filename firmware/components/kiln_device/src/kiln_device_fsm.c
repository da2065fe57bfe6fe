/* The device state machine and its timers (see kiln_device.h): Wi-Fi, clock and gateway
 * connection, provisioning changes, events from the port and the periodic tick. */
#include <inttypes.h>
#include <string.h>

#include "kiln_device_internal.h"
#include "kiln_jwt.h"
#include "kiln_protocol.h"
#include "kiln_session.h"

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

/* --- the state machine ---------------------------------------------------------------- */

void kiln_dev_wifi_connect(kiln_device_t *dev)
{
    dev->wifi = LINK_CONNECTING;
    if (kiln_port_wifi_connect(dev->settings.ssid, dev->settings.pass) != KILN_PORT_OK) {
        dev->wifi = LINK_DOWN;
        dev->next_wifi_ms = kiln_port_uptime_ms() + kiln_backoff_next(&dev->wifi_backoff, kiln_dev_random_u32());
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
    dev->ws_closed_here = false;
    dev->ws_opened_ms = kiln_port_uptime_ms();
    set_state(dev, KILN_STATE_GATEWAY_CONNECTING, KILN_REASON_CONNECTING);
    if (kiln_port_ws_open(&ws) != KILN_PORT_OK) {
        dev->ws = LINK_DOWN;
        dev->last_backoff_ms = kiln_backoff_next(&dev->gateway_backoff, kiln_dev_random_u32());
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

void kiln_dev_ws_close(kiln_device_t *dev, uint16_t code)
{
    dev->ws_closed_here = true;
    kiln_port_ws_close(code);
}

void kiln_dev_settings_changed(kiln_device_t *dev)
{
    /* New provisioning data: a revoked device may try again, at once. */
    dev->settings.revoked = false;
    (void)kiln_settings_save_flag(KILN_KV_REVOKED, false);
    kiln_backoff_reset(&dev->gateway_backoff);
    dev->next_gateway_ms = 0;
    if (dev->ws != LINK_DOWN) {
        kiln_dev_ws_close(dev, 1000); /* reconnects with the new settings once closed */
    }
    kiln_dev_advance(dev);
}

void kiln_dev_factory_reset(kiln_device_t *dev)
{
    kiln_dev_log(dev, KILN_LOG_WARN, "factory reset: erasing settings and keys");
    if (dev->ws != LINK_DOWN) {
        kiln_dev_ws_close(dev, 1000);
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
        kiln_dev_ws_close(dev, 1001);
    }
    if (dev->improv_pending) {
        kiln_dev_improv_wifi_result(dev, false); /* restores the previous credentials */
        dev->improv_failure = reason;
        if (dev->settings.ssid[0] == '\0') {
            set_state(dev, KILN_STATE_UNPROVISIONED, reason);
            return;
        }
    }
    dev->next_wifi_ms = now + kiln_backoff_next(&dev->wifi_backoff, kiln_dev_random_u32());
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

