/* The kiln.v1 session (see kiln_session.h). */
#include "kiln_session.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "kiln_client.h"
#include "kiln_protocol.h"

#define CLOSE_GOING_AWAY 1001 /* from the gateway: it is shutting down, usually to restart */
#define CLOSE_REVOKED 4003

static bool send_tx(kiln_device_t *dev, size_t len)
{
    kiln_port_err_t err = kiln_port_ws_send_text(dev->tx, len);
    if (err != KILN_PORT_OK) {
        kiln_dev_log(dev, KILN_LOG_WARN, "send failed (%s): the session is closing or its queue is full",
                     err == KILN_PORT_ERR_TOO_LARGE ? "queue full" : "not open");
    }
    return err == KILN_PORT_OK;
}

void kiln_session_flush(kiln_device_t *dev)
{
    int64_t wall = 0;
    if (dev->ws != LINK_UP || !dev->welcomed || !kiln_port_wall_time_ms(&wall)) {
        return;
    }
    int64_t offset = wall - (int64_t)kiln_port_uptime_ms();
    kiln_sample_t *batch[64];
    for (;;) {
        size_t n = 0;
        size_t cursor = 0;
        kiln_sample_t *s;
        while (n < dev->max_batch && (s = kiln_telemetry_next_unsent(&dev->telemetry, &cursor)) != NULL) {
            batch[n++] = s;
        }
        if (n == 0) {
            return;
        }
        size_t len = 0;
        kiln_err_t err;
        /* A batch that does not fit the send buffer is halved until it does. */
        while ((err = kiln_client_encode_samples(dev->seq, &dev->telemetry, batch, n, offset, dev->tx,
                                                 sizeof(dev->tx), &len)) == KILN_ERR_NO_MEM && n > 1) {
            n /= 2;
        }
        if (err != KILN_OK || !send_tx(dev, len)) {
            return;
        }
        if (n > 1) {
            dev->seq++; /* a batch message takes a seq of its own */
        }
        for (size_t i = 0; i < n; i++) {
            batch[i]->sent = 1;
        }
    }
}

static void send_hello(kiln_device_t *dev)
{
    kiln_hello_t hello = {.device_id = dev->settings.device_id, .boot_id = dev->boot_id,
                          .fw_name = dev->cfg.fw_name, .fw_version = dev->cfg.fw_version,
                          .chip = dev->chip, .mac = dev->mac};
    size_t len = 0;
    if (kiln_client_encode_hello(dev->seq, &hello, dev->tx, sizeof(dev->tx), &len) == KILN_OK && send_tx(dev, len)) {
        dev->seq++;
    }
}

static void send_result(kiln_device_t *dev, const char *id, const char *status, const cJSON *result,
                        const char *error)
{
    size_t len = 0;
    kiln_err_t err =
        kiln_client_encode_command_result(dev->seq, id, status, result, error, dev->tx, sizeof(dev->tx), &len);
    if (err == KILN_ERR_NO_MEM && result != NULL) {
        /* The handler's result does not fit the send buffer: say so rather than stay silent. */
        kiln_dev_log(dev, KILN_LOG_WARN, "command %s: result larger than the send buffer (%u bytes)", id,
                     (unsigned)sizeof(dev->tx));
        err = kiln_client_encode_command_result(dev->seq, id, "error", NULL, "result too large", dev->tx,
                                                sizeof(dev->tx), &len);
    }
    if (err == KILN_OK && send_tx(dev, len)) {
        dev->seq++;
    }
}

#define IDENTIFY_DEFAULT_SEC 10u

/* Built-in `identify`: args {"seconds": 1..60} (optional, default 10) -> result {"seconds": n}.
 * Anything else in args is refused rather than ignored: a misspelt argument must not
 * quietly blink for the default time. Keys are not echoed (they may hold control bytes,
 * which an `error` text may not). */
static void run_identify(kiln_device_t *dev, const char *id, const cJSON *args)
{
    uint32_t seconds = IDENTIFY_DEFAULT_SEC;
    const cJSON *item = NULL;
    cJSON_ArrayForEach(item, args)
    {
        if (item->string == NULL || strcmp(item->string, "seconds") != 0) {
            send_result(dev, id, "error", NULL, "identify takes one argument, seconds (1..60)");
            return;
        }
        double v = item->valuedouble;
        /* The range check comes first, so the cast below only ever sees 1..60. */
        if (!cJSON_IsNumber(item) || !(v >= 1.0 && v <= (double)KILN_PORT_IDENTIFY_MAX_SEC) ||
            v != (double)(uint32_t)v) {
            send_result(dev, id, "error", NULL, "identify: seconds must be a whole number from 1 to 60");
            return;
        }
        seconds = (uint32_t)v;
    }
    kiln_port_identify(seconds);
    cJSON *result = cJSON_CreateObject();
    if (result == NULL || cJSON_AddNumberToObject(result, "seconds", (double)seconds) == NULL) {
        send_result(dev, id, "error", NULL, "identify: out of memory for the result");
    } else {
        send_result(dev, id, "ok", result, NULL);
    }
    cJSON_Delete(result);
}

static void on_command(kiln_device_t *dev, const kiln_incoming_t *in)
{
    const char *id = in->u.command.id;
    const char *name = in->u.command.name;
    int64_t wall = 0;
    if (in->u.command.has_expires && kiln_port_wall_time_ms(&wall) && wall > in->u.command.expires_at_ms) {
        send_result(dev, id, "expired", NULL, NULL);
        return;
    }
    kiln_dev_log(dev, KILN_LOG_INFO, "command %s (%s)", name, id);
    if (strcmp(name, "ping") == 0) {
        send_result(dev, id, "ok", NULL, NULL);
    } else if (strcmp(name, "reboot") == 0) {
        send_result(dev, id, "ok", NULL, NULL);
        dev->reboot_at_ms = kiln_port_uptime_ms() + 500u; /* let the result go out first */
    } else if (strcmp(name, "telemetry_now") == 0) {
        send_result(dev, id, "ok", NULL, NULL);
        kiln_dev_take_sample(dev);
    } else if (strcmp(name, "identify") == 0) {
        run_identify(dev, id, in->u.command.args);
    } else {
        for (size_t i = 0; i < dev->command_count; i++) {
            if (strcmp(dev->commands[i].name, name) != 0) {
                continue;
            }
            cJSON *result = cJSON_CreateObject();
            char error[129] = "";
            kiln_command_status_t st = result == NULL ? KILN_COMMAND_ERROR
                                                      : dev->commands[i].fn(dev->commands[i].ctx, in->u.command.args,
                                                                            result, error, sizeof(error));
            bool has_result = result != NULL && result->child != NULL;
            send_result(dev, id, st == KILN_COMMAND_OK ? "ok" : "error", has_result ? result : NULL,
                        st == KILN_COMMAND_OK ? NULL : error);
            cJSON_Delete(result);
            return;
        }
        send_result(dev, id, "unsupported", NULL, NULL);
    }
}

static void on_text(kiln_device_t *dev, const char *text, size_t len)
{
    kiln_incoming_t in;
    cJSON *root = NULL;
    kiln_message_result_t res;
    kiln_err_t err = kiln_client_parse(text, len, &in, &root, &res);
    if (err != KILN_OK) {
        kiln_dev_log(dev, KILN_LOG_WARN, "bad message from the gateway: %s at \"%s\"", kiln_err_name(err), res.path);
        char message[200];
        snprintf(message, sizeof(message), "%s at %.150s", kiln_err_name(err), res.path);
        size_t n = 0;
        if (kiln_client_encode_error(dev->seq, "BAD_MESSAGE", message, false, 0, dev->tx, sizeof(dev->tx), &n) ==
                KILN_OK &&
            send_tx(dev, n)) {
            dev->seq++;
        }
        return;
    }
    switch (in.kind) {
    case KILN_IN_WELCOME:
        dev->welcomed = true;
        dev->heartbeat_ms = in.u.welcome.heartbeat_sec * 1000u;
        dev->telemetry_ms = in.u.welcome.telemetry_sec * 1000u;
        if (in.u.welcome.max_batch < dev->max_batch) {
            dev->max_batch = in.u.welcome.max_batch;
        }
        dev->next_heartbeat_ms = kiln_port_uptime_ms() + dev->heartbeat_ms;
        /* A shorter interval than the one the device sampled at takes effect now, not after the old wait. */
        if (dev->next_sample_ms > kiln_port_uptime_ms() + dev->telemetry_ms) {
            dev->next_sample_ms = kiln_port_uptime_ms() + dev->telemetry_ms;
        }
        kiln_backoff_connected(&dev->gateway_backoff, kiln_port_uptime_ms());
        kiln_dev_log(dev, KILN_LOG_INFO, "online: telemetry every %" PRIu32 " s, %u unacknowledged sample(s) to resend",
                     in.u.welcome.telemetry_sec, (unsigned)kiln_telemetry_pending(&dev->telemetry));
        kiln_telemetry_mark_unsent(&dev->telemetry);
        kiln_dev_advance(dev);
        kiln_session_flush(dev);
        break;
    case KILN_IN_ACK: {
        const cJSON *item = NULL;
        cJSON_ArrayForEach(item, in.u.ack.acked) { (void)kiln_telemetry_ack(&dev->telemetry, (uint32_t)item->valuedouble); }
        break;
    }
    case KILN_IN_COMMAND:
        on_command(dev, &in);
        break;
    case KILN_IN_CONFIG:
        if (in.u.config.has_telemetry) {
            dev->telemetry_ms = in.u.config.telemetry_sec * 1000u;
            dev->next_sample_ms = kiln_port_uptime_ms() + dev->telemetry_ms;
        }
        if (in.u.config.has_heartbeat) {
            dev->heartbeat_ms = in.u.config.heartbeat_sec * 1000u;
            if (dev->next_heartbeat_ms > kiln_port_uptime_ms() + dev->heartbeat_ms) {
                dev->next_heartbeat_ms = kiln_port_uptime_ms() + dev->heartbeat_ms;
            }
        }
        kiln_dev_log(dev, KILN_LOG_INFO, "config: telemetry every %" PRIu32 " ms, heartbeat every %" PRIu32 " ms",
                     dev->telemetry_ms, dev->heartbeat_ms);
        break;
    case KILN_IN_ERROR:
        kiln_dev_log(dev, KILN_LOG_WARN, "gateway error %s: %s", in.u.error.code, in.u.error.message);
        break;
    case KILN_IN_HEARTBEAT:
        break;
    }
    cJSON_Delete(root);
}

static void on_closed(kiln_device_t *dev, int code, const char *why, size_t why_len)
{
    uint64_t now = kiln_port_uptime_ms();
    bool was_online = dev->welcomed;
    dev->ws = LINK_DOWN;
    dev->welcomed = false;
    if (was_online) {
        dev->reconnects++;
        kiln_backoff_disconnected(&dev->gateway_backoff, now);
    }
    if (code == CLOSE_REVOKED) {
        dev->settings.revoked = true;
        (void)kiln_settings_save_flag(KILN_KV_REVOKED, true);
        kiln_dev_log(dev, KILN_LOG_ERROR,
                     "gateway revoked this device (close 4003): stopped, not reconnecting until re-provisioned");
        kiln_dev_advance(dev);
        return;
    }
    if (code == CLOSE_GOING_AWAY && !dev->ws_closed_here) {
        /* Back within seconds of the restart, not after an exponential tail (kiln_backoff.h). */
        kiln_backoff_restarting(&dev->gateway_backoff);
    }
    dev->last_backoff_ms = kiln_backoff_next(&dev->gateway_backoff, kiln_dev_random_u32());
    dev->next_gateway_ms = now + dev->last_backoff_ms;
    kiln_dev_log(dev, KILN_LOG_WARN, "gateway %s (code %d%s%.*s): reconnecting in %" PRIu32 " ms",
                 was_online ? "session closed" : "connection failed", code, why_len > 0 ? ", " : "",
                 (int)(why_len > 80 ? 80 : why_len), why != NULL ? why : "", dev->last_backoff_ms);
    dev->state = KILN_STATE_GATEWAY_CONNECTING;
    dev->reason = was_online ? KILN_REASON_GATEWAY_CLOSED : KILN_REASON_GATEWAY_UNREACHABLE;
}

void kiln_session_event(kiln_device_t *dev, const kiln_port_event_t *e)
{
    switch (e->kind) {
    case KILN_PORT_EVENT_WS_OPEN:
        if (dev->ws != LINK_CONNECTING) {
            return;
        }
        dev->ws = LINK_UP;
        dev->ws_opened_ms = kiln_port_uptime_ms();
        kiln_dev_log(dev, KILN_LOG_INFO, "gateway connected, sending hello");
        dev->reason = KILN_REASON_AWAITING_WELCOME;
        send_hello(dev);
        break;
    case KILN_PORT_EVENT_WS_TEXT:
        if (dev->ws == LINK_UP && e->text != NULL) {
            on_text(dev, e->text, e->len);
        }
        break;
    case KILN_PORT_EVENT_WS_CLOSED:
        if (dev->ws != LINK_DOWN) {
            on_closed(dev, e->code, e->text, e->text != NULL ? e->len : 0);
        }
        break;
    default:
        break;
    }
}

void kiln_session_tick(kiln_device_t *dev, uint64_t now)
{
    if (dev->ws == LINK_UP && dev->welcomed && now >= dev->next_heartbeat_ms) {
        dev->next_heartbeat_ms = now + dev->heartbeat_ms;
        size_t len = 0;
        if (kiln_client_encode_heartbeat(dev->seq, now, dev->tx, sizeof(dev->tx), &len) == KILN_OK &&
            send_tx(dev, len)) {
            dev->seq++;
        }
    }
    if (dev->ws != LINK_DOWN && !dev->welcomed && now - dev->ws_opened_ms >= dev->cfg.welcome_timeout_ms) {
        kiln_dev_log(dev, KILN_LOG_WARN, "no welcome from the gateway in %" PRIu32 " ms: closing",
                     dev->cfg.welcome_timeout_ms);
        dev->ws_opened_ms = now; /* once per timeout, until the close is reported */
        kiln_dev_ws_close(dev, 1000);
    }
}

kiln_err_t kiln_device_add_command(kiln_device_t *dev, const char *name, kiln_command_fn_t fn, void *ctx)
{
    if (dev == NULL || name == NULL || fn == NULL || strlen(name) == 0 || strlen(name) > KILN_METRIC_NAME_MAX ||
        !kiln_format_matches(KILN_FORMAT_METRIC_NAME, name, strlen(name))) {
        return KILN_ERR_INVALID_ARG;
    }
    static const char *const builtin[] = {"ping", "reboot", "telemetry_now", "identify"};
    for (size_t i = 0; i < sizeof(builtin) / sizeof(builtin[0]); i++) {
        if (strcmp(builtin[i], name) == 0) {
            return KILN_ERR_INVALID_ARG;
        }
    }
    for (size_t i = 0; i < dev->command_count; i++) {
        if (strcmp(dev->commands[i].name, name) == 0) {
            return KILN_ERR_INVALID_ARG;
        }
    }
    if (dev->command_count == KILN_DEVICE_COMMANDS_MAX) {
        return KILN_ERR_NO_MEM;
    }
    kiln_command_entry_t *c = &dev->commands[dev->command_count++];
    memcpy(c->name, name, strlen(name) + 1u);
    c->fn = fn;
    c->ctx = ctx;
    return KILN_OK;
}
