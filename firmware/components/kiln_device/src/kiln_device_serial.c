/* The serial side of the device (SPEC.md §2): one UART carries logs, console
 * commands, Improv Serial (device role, formats.md §1) and Kiln RPC (server role),
 * cut apart by kiln_serial_demux. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "kiln_device_internal.h"
#include "kiln_improv.h"
#include "kiln_jwt.h"
#include "kiln_protocol.h"
#include "kiln_rpc_server.h"

#define IMPROV_SCAN_MAX 16

static void improv_send(uint8_t type, const uint8_t *data, size_t len)
{
    uint8_t frame[KILN_IMPROV_FRAME_MAX + 1];
    size_t n = 0;
    if (kiln_improv_frame_encode(type, data, len, frame, sizeof(frame), &n) == KILN_OK) {
        frame[n++] = '\n'; /* as ESPHome: a frame ends its line */
        kiln_port_serial_write(frame, n);
    }
}

static void improv_error(uint8_t error) { improv_send(KILN_IMPROV_TYPE_ERROR_STATE, &error, 1); }

static void improv_result(uint8_t command, const kiln_improv_string_t *strings, size_t count)
{
    uint8_t data[KILN_IMPROV_DATA_MAX];
    size_t n = 0;
    if (kiln_improv_rpc_result_encode(command, strings, count, data, sizeof(data), &n) == KILN_OK) {
        improv_send(KILN_IMPROV_TYPE_RPC_RESULT, data, n);
    }
}

static kiln_improv_string_t str(const char *s)
{
    return (kiln_improv_string_t){.bytes = (const uint8_t *)s, .len = strlen(s)};
}

static void improv_url_result(kiln_device_t *dev)
{
    kiln_improv_string_t url = str(dev->cfg.improv_url != NULL ? dev->cfg.improv_url : "");
    improv_result(KILN_IMPROV_CMD_WIFI_SETTINGS, &url, url.len > 0 ? 1u : 0u);
}

void kiln_dev_improv_send_state(kiln_device_t *dev)
{
    uint8_t state = dev->improv_pending                                          ? KILN_IMPROV_STATE_PROVISIONING
                    : dev->settings.ssid[0] != '\0' && dev->wifi == LINK_UP      ? KILN_IMPROV_STATE_PROVISIONED
                                                                                 : KILN_IMPROV_STATE_AUTHORIZED;
    improv_send(KILN_IMPROV_TYPE_CURRENT_STATE, &state, 1);
    if (state == KILN_IMPROV_STATE_PROVISIONED) {
        improv_url_result(dev);
    }
}

void kiln_dev_improv_wifi_result(kiln_device_t *dev, bool connected)
{
    dev->improv_pending = false;
    if (connected) {
        if (kiln_settings_save_str(KILN_KV_WIFI_SSID, dev->settings.ssid) != KILN_OK ||
            kiln_settings_save_str(KILN_KV_WIFI_PASS, dev->settings.pass) != KILN_OK) {
            kiln_dev_log(dev, KILN_LOG_ERROR, "cannot store the Wi-Fi credentials");
            improv_error(KILN_IMPROV_ERROR_UNKNOWN);
        }
        kiln_dev_log(dev, KILN_LOG_INFO, "provisioned over Improv: \"%s\"", dev->settings.ssid);
        kiln_dev_improv_send_state(dev);
        return;
    }
    improv_error(KILN_IMPROV_ERROR_UNABLE_TO_CONNECT);
    /* Back to what was stored (possibly nothing). */
    kiln_settings_t stored;
    kiln_settings_load(&stored);
    memcpy(dev->settings.ssid, stored.ssid, sizeof(stored.ssid));
    memcpy(dev->settings.pass, stored.pass, sizeof(stored.pass));
    kiln_dev_improv_send_state(dev);
}

static void improv_wifi_settings(kiln_device_t *dev, const kiln_improv_rpc_command_t *cmd)
{
    kiln_improv_string_t ssid;
    kiln_improv_string_t pass;
    if (kiln_improv_wifi_settings_decode(cmd->payload, cmd->payload_len, &ssid, &pass) != KILN_OK ||
        ssid.len == 0 || ssid.len > KILN_SSID_MAX || pass.len > KILN_PASS_MAX) {
        improv_error(KILN_IMPROV_ERROR_INVALID_RPC);
        return;
    }
    if (dev->wifi != LINK_DOWN) {
        kiln_port_wifi_disconnect();
        dev->wifi = LINK_DOWN;
        if (dev->ws != LINK_DOWN) {
            kiln_dev_ws_close(dev, 1001);
        }
    }
    memcpy(dev->settings.ssid, ssid.bytes, ssid.len);
    dev->settings.ssid[ssid.len] = '\0';
    memcpy(dev->settings.pass, pass.bytes, pass.len);
    dev->settings.pass[pass.len] = '\0';
    dev->improv_pending = true;
    dev->improv_deadline_ms = kiln_port_uptime_ms() + dev->cfg.wifi_connect_timeout_ms;
    kiln_dev_log(dev, KILN_LOG_INFO, "Improv: trying Wi-Fi \"%s\"", dev->settings.ssid);
    improv_error(KILN_IMPROV_ERROR_NONE);
    kiln_dev_improv_send_state(dev);
    kiln_backoff_reset(&dev->wifi_backoff);
    kiln_dev_wifi_connect(dev);
    kiln_dev_advance(dev);
}

static void improv_scan(void)
{
    kiln_port_ap_t aps[IMPROV_SCAN_MAX];
    size_t n = kiln_port_wifi_scan(aps, IMPROV_SCAN_MAX);
    for (size_t i = 0; i < n && i < IMPROV_SCAN_MAX; i++) {
        char rssi[8];
        snprintf(rssi, sizeof(rssi), "%d", aps[i].rssi);
        aps[i].ssid[sizeof(aps[i].ssid) - 1] = '\0';
        kiln_improv_string_t s[3] = {str(aps[i].ssid), str(rssi), str(aps[i].secure ? "YES" : "NO")};
        improv_result(KILN_IMPROV_CMD_GET_WIFI_NETWORKS, s, 3);
    }
    improv_result(KILN_IMPROV_CMD_GET_WIFI_NETWORKS, NULL, 0);
}

static void on_improv(kiln_device_t *dev, const uint8_t *bytes, size_t len)
{
    kiln_improv_frame_t frame;
    kiln_improv_rpc_command_t cmd;
    if (kiln_improv_frame_decode(bytes, len, &frame) != KILN_OK) {
        improv_error(KILN_IMPROV_ERROR_INVALID_RPC);
        return;
    }
    if (frame.type != KILN_IMPROV_TYPE_RPC_COMMAND) {
        return; /* states, errors and results are what a device sends, not receives */
    }
    if (kiln_improv_rpc_command_decode(frame.data, frame.data_len, &cmd) != KILN_OK) {
        improv_error(KILN_IMPROV_ERROR_INVALID_RPC);
        return;
    }
    const char *name = dev->settings.device_id[0] != '\0' ? dev->settings.device_id : "kiln-device";
    switch (cmd.command) {
    case KILN_IMPROV_CMD_WIFI_SETTINGS:
        improv_wifi_settings(dev, &cmd);
        break;
    case KILN_IMPROV_CMD_GET_CURRENT_STATE:
        kiln_dev_improv_send_state(dev);
        break;
    case KILN_IMPROV_CMD_GET_DEVICE_INFO: {
        kiln_improv_string_t info[4] = {str(dev->cfg.fw_name), str(dev->cfg.fw_version), str(dev->chip), str(name)};
        improv_result(KILN_IMPROV_CMD_GET_DEVICE_INFO, info, 4);
        break;
    }
    case KILN_IMPROV_CMD_GET_WIFI_NETWORKS:
        improv_scan();
        break;
    case KILN_IMPROV_CMD_HOSTNAME:
    case KILN_IMPROV_CMD_DEVICE_NAME:
        if (cmd.payload_len == 0) {
            kiln_improv_string_t n = str(name);
            improv_result(cmd.command, &n, 1);
        } else {
            improv_error(KILN_IMPROV_ERROR_UNKNOWN_RPC); /* names come from SET_DEVICE_ID */
        }
        break;
    default:
        improv_error(KILN_IMPROV_ERROR_UNKNOWN_RPC);
        break;
    }
}

/* --- console -------------------------------------------------------------------- */

static void console_print(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void console_print(const char *fmt, ...)
{
    char line[300];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1u, fmt, ap);
    va_end(ap);
    n = n < 0 ? 0 : n > (int)sizeof(line) - 2 ? (int)sizeof(line) - 2 : n;
    line[n++] = '\n';
    kiln_port_serial_write(line, (size_t)n);
}

static void on_console(kiln_device_t *dev, const char *text, size_t len)
{
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '\t')) {
        len--;
    }
    while (len > 0 && (*text == ' ' || *text == '\t')) {
        text++;
        len--;
    }
#define IS(cmd) (len == sizeof(cmd) - 1u && memcmp(text, cmd, len) == 0)
    kiln_device_stats_t st;
    kiln_device_stats(dev, &st);
    if (len == 0) {
        return;
    } else if (IS("status")) {
        console_print("state=%s reason=%s wifi=%s gateway=%s queued=%u samples=%" PRIu32 " dropped=%" PRIu32
                      " reconnects=%" PRIu32 " seq=%" PRIu32,
                      kiln_device_state_name(dev->state), kiln_device_reason_name(dev->reason),
                      dev->wifi == LINK_UP ? "up" : "down", dev->ws == LINK_UP ? "up" : "down", (unsigned)st.queued,
                      st.samples, st.dropped, st.reconnects, st.seq);
    } else if (IS("version")) {
        console_print("%s %s protocol=%s rpc=%d boot=%s", dev->cfg.fw_name, dev->cfg.fw_version,
                      KILN_PROTOCOL_VERSION, KILN_RPC_VERSION, dev->boot_id);
    } else if (IS("reboot")) {
        console_print("rebooting");
        dev->reboot_at_ms = kiln_port_uptime_ms() + 100u;
    } else if (IS("telemetry now")) {
        kiln_dev_take_sample(dev);
        console_print("sampled: seq=%" PRIu32 " queued=%u", dev->seq, (unsigned)kiln_telemetry_pending(&dev->telemetry));
    } else if (IS("wifi")) {
        int8_t rssi = 0;
        bool has_rssi = dev->wifi == LINK_UP && kiln_port_wifi_rssi(&rssi);
        console_print("ssid=\"%s\" link=%s rssi=%d", dev->settings.ssid,
                      dev->wifi == LINK_UP ? "up" : dev->wifi == LINK_CONNECTING ? "connecting" : "down",
                      has_rssi ? rssi : 0);
    } else if (IS("factory-reset")) {
        kiln_dev_factory_reset(dev);
        console_print("factory reset done");
    } else if (IS("help")) {
        console_print("commands: status, version, reboot, telemetry now, wifi, factory-reset, help");
    } else {
        console_print("unknown command \"%.*s\" (try help)", (int)(len > 32 ? 32 : len), text);
    }
#undef IS
}

static void on_serial_event(void *ctx, kiln_serial_event_kind_t kind, const uint8_t *bytes, size_t len)
{
    kiln_device_t *dev = ctx;
    switch (kind) {
    case KILN_SERIAL_EVENT_TEXT_LINE:
        on_console(dev, (const char *)bytes, len);
        break;
    case KILN_SERIAL_EVENT_IMPROV_FRAME:
        on_improv(dev, bytes, len);
        break;
    case KILN_SERIAL_EVENT_RPC_LINE:
        kiln_rpc_server_line(dev, bytes, len);
        break;
    }
}

void kiln_dev_serial_init(kiln_device_t *dev)
{
    kiln_serial_demux_init(&dev->demux, on_serial_event, dev);
    kiln_rpc_assembler_init(&dev->rpc, dev->rpc_value, sizeof(dev->rpc_value));
}

void kiln_device_serial_input(kiln_device_t *dev, const uint8_t *bytes, size_t len)
{
    if (dev != NULL && bytes != NULL) {
        kiln_serial_demux_push(&dev->demux, bytes, len);
    }
}
