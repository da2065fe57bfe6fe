/* kiln_device: the state machine, the kiln.v1 session and the serial server, driven
 * through the fake port (kiln_fake_port.c) step by step. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "kiln_device.h"
#include "kiln_fake_port.h"
#include "kiln_improv.h"
#include "kiln_rpc.h"
#include "kiln_serial_demux.h"
#include "kiln_test_support.h"

static kiln_device_t *dev;

/* --- helpers ------------------------------------------------------------------------ */

static void rpc(uint8_t method, uint16_t id, const void *data, size_t len)
{
    kiln_rpc_frame_t m = {.kind = KILN_RPC_KIND_REQUEST, .method = method, .id = id, .data = data, .data_len = len};
    for (size_t i = 0; i < kiln_rpc_chunk_count(len); i++) {
        kiln_rpc_frame_t chunk;
        uint8_t line[KILN_RPC_LINE_MAX];
        size_t n = 0;
        assert_int_equal(kiln_rpc_message_chunk(&m, i, &chunk), KILN_OK);
        assert_int_equal(kiln_rpc_frame_encode(&chunk, line, sizeof(line), &n), KILN_OK);
        kiln_device_serial_input(dev, line, n);
    }
}

typedef struct {
    uint16_t id;
    int status; /* -1: not found */
    char data[KILN_RPC_VALUE_MAX + 1];
    size_t len;
    int improv_errors[8];
    int improv_states[8];
    size_t n_errors, n_states;
} scan_t;

static void on_out(void *ctx, kiln_serial_event_kind_t kind, const uint8_t *bytes, size_t len)
{
    scan_t *s = ctx;
    if (kind == KILN_SERIAL_EVENT_RPC_LINE) {
        uint8_t payload[KILN_RPC_PAYLOAD_MAX];
        kiln_rpc_frame_t f;
        assert_int_equal(kiln_rpc_frame_decode(bytes, len, payload, &f), KILN_OK);
        if (f.id == s->id) {
            s->status = f.status;
            memcpy(s->data + s->len, f.data, f.data_len);
            s->len += f.data_len;
            s->data[s->len] = '\0';
        }
    } else if (kind == KILN_SERIAL_EVENT_IMPROV_FRAME) {
        kiln_improv_frame_t f;
        assert_int_equal(kiln_improv_frame_decode(bytes, len, &f), KILN_OK);
        if (f.type == KILN_IMPROV_TYPE_ERROR_STATE && s->n_errors < 8) s->improv_errors[s->n_errors++] = f.data[0];
        if (f.type == KILN_IMPROV_TYPE_CURRENT_STATE && s->n_states < 8) s->improv_states[s->n_states++] = f.data[0];
    }
}

/* Reads back what the device wrote since the last fake_clear_output(). */
static scan_t *scan(uint16_t id)
{
    static scan_t s;
    memset(&s, 0, sizeof(s));
    s.id = id;
    s.status = -1;
    static kiln_serial_demux_t d;
    kiln_serial_demux_init(&d, on_out, &s);
    kiln_serial_demux_push(&d, g_fake.serial, g_fake.serial_len);
    return &s;
}

static void improv(uint8_t cmd, const uint8_t *payload, size_t len)
{
    uint8_t data[KILN_IMPROV_DATA_MAX];
    data[0] = cmd;
    data[1] = (uint8_t)len;
    memcpy(data + 2, payload, len);
    uint8_t frame[KILN_IMPROV_FRAME_MAX + 1];
    size_t n = 0;
    assert_int_equal(kiln_improv_frame_encode(KILN_IMPROV_TYPE_RPC_COMMAND, data, len + 2, frame, sizeof(frame), &n),
                     KILN_OK);
    frame[n++] = '\n';
    kiln_device_serial_input(dev, frame, n);
}

static void wifi_settings(const char *ssid, const char *pass)
{
    uint8_t p[100];
    size_t a = strlen(ssid), b = strlen(pass);
    p[0] = (uint8_t)a;
    memcpy(p + 1, ssid, a);
    p[1 + a] = (uint8_t)b;
    memcpy(p + 2 + a, pass, b);
    improv(KILN_IMPROV_CMD_WIFI_SETTINGS, p, a + b + 2);
}

static void event(kiln_port_event_kind_t kind, int code, const char *text)
{
    kiln_port_event_t e = {.kind = kind, .code = code, .text = text, .len = text != NULL ? strlen(text) : 0};
    kiln_device_event(dev, &e);
}

static void advance(uint32_t ms)
{
    for (uint32_t t = 0; t < ms; t += 10) {
        g_fake.now_ms += 10;
        (void)kiln_device_tick(dev);
    }
}

static const char *last_sent(void) { return g_fake.sent_count > 0 ? g_fake.sent[g_fake.sent_count - 1] : ""; }

static int count_sent(const char *needle)
{
    int n = 0;
    for (size_t i = 0; i < g_fake.sent_count; i++) n += strstr(g_fake.sent[i], needle) != NULL;
    return n;
}

static void start(void)
{
    kiln_device_config_t cfg;
    kiln_device_config_default(&cfg);
    cfg.fw_name = "kiln-test";
    cfg.fw_version = "9.9.9";
    cfg.telemetry_interval_ms = 1000;
    cfg.gateway_backoff = (kiln_backoff_config_t){
        .base_ms = 100, .cap_ms = 800, .stable_ms = 5000, .restart_cap_ms = 10, .restart_attempts = 20};
    cfg.ring_capacity = 8;
    dev = kiln_device_start(&cfg);
    assert_non_null(dev);
}

/* Provisioned in storage, then Wi-Fi, time and the gateway come up. */
static void bring_online(void)
{
    fake_kv_put("wifi_ssid", "lab");
    fake_kv_put("wifi_pass", "pw");
    fake_kv_put("gw_url", "wss://gw.example:8443/v1/device");
    fake_kv_put("device_id", "dev-1");
    start();
    rpc(KILN_RPC_METHOD_GENERATE_KEY, 1, "\x00", 1);
    assert_int_equal(kiln_device_state(dev), KILN_STATE_WIFI_CONNECTING);
    event(KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL);
    assert_int_equal(kiln_device_state(dev), KILN_STATE_TIME_SYNC);
    g_fake.wall_set = true;
    g_fake.wall_offset_ms = INT64_C(1714000000000);
    event(KILN_PORT_EVENT_TIME_SYNCED, 0, NULL);
    assert_int_equal(kiln_device_state(dev), KILN_STATE_GATEWAY_CONNECTING);
    assert_int_equal(g_fake.ws_opens, 1);
    event(KILN_PORT_EVENT_WS_OPEN, 0, NULL);
    assert_non_null(strstr(last_sent(), "\"type\":\"hello\""));
    event(KILN_PORT_EVENT_WS_TEXT, 0,
          "{\"type\":\"welcome\",\"seq\":0,\"serverTime\":1,\"heartbeatSec\":5,\"telemetrySec\":1,\"maxBatch\":4}");
    assert_int_equal(kiln_device_state(dev), KILN_STATE_ONLINE);
}

static int setup(void **state)
{
    (void)state;
    fake_reset();
    return 0;
}

/* --- tests ----------------------------------------------------------------------------- */

static void test_provisioning_over_improv_and_rpc(void **state)
{
    (void)state;
    start();
    assert_int_equal(kiln_device_state(dev), KILN_STATE_UNPROVISIONED);
    assert_int_equal(kiln_device_reason(dev), KILN_REASON_NO_WIFI_CREDENTIALS);

    rpc(KILN_RPC_METHOD_GET_PUBLIC_KEY, 1, NULL, 0);
    assert_int_equal(scan(1)->status, KILN_RPC_STATUS_NO_KEY);
    rpc(KILN_RPC_METHOD_SET_DEVICE_ID, 2, "Bad ID", 6);
    assert_int_equal(scan(2)->status, KILN_RPC_STATUS_BAD_VALUE);
    rpc(KILN_RPC_METHOD_SET_DEVICE_ID, 3, "dev-7", 5);
    assert_int_equal(scan(3)->status, KILN_RPC_STATUS_OK);
    rpc(KILN_RPC_METHOD_GENERATE_KEY, 4, "\x02", 1);
    assert_int_equal(scan(4)->status, KILN_RPC_STATUS_BAD_VALUE);
    rpc(KILN_RPC_METHOD_GENERATE_KEY, 5, "\x00", 1);
    scan_t *k = scan(5);
    assert_int_equal(k->status, KILN_RPC_STATUS_OK);
    assert_non_null(strstr(k->data, "\"kty\":\"EC\",\"crv\":\"P-256\""));
    char first[KILN_RPC_VALUE_MAX + 1];
    snprintf(first, sizeof(first), "%s", k->data);
    rpc(KILN_RPC_METHOD_GENERATE_KEY, 6, "\x00", 1); /* keep */
    assert_string_equal(scan(6)->data, first);
    rpc(KILN_RPC_METHOD_GET_PUBLIC_KEY, 7, NULL, 0);
    assert_string_equal(scan(7)->data, first);
    rpc(KILN_RPC_METHOD_GENERATE_KEY, 8, "\x01", 1); /* replace */
    assert_string_not_equal(scan(8)->data, first);

    char pem[3000] = "-----BEGIN CERTIFICATE-----\n";
    memset(pem + strlen(pem), 'A', 2000);
    rpc(KILN_RPC_METHOD_SET_CA_CERT, 9, pem, strlen(pem)); /* 8 chunks */
    assert_int_equal(scan(9)->status, KILN_RPC_STATUS_OK);
    assert_true(fake_kv_has("ca_pem"));
    rpc(KILN_RPC_METHOD_SET_CA_CERT, 10, "not a cert", 10);
    assert_int_equal(scan(10)->status, KILN_RPC_STATUS_BAD_VALUE);
    rpc(KILN_RPC_METHOD_SET_GATEWAY, 11, "https://x", 9);
    assert_int_equal(scan(11)->status, KILN_RPC_STATUS_BAD_VALUE);
    rpc(KILN_RPC_METHOD_SET_GATEWAY, 12, "wss://gw.example/v1/device", 26);
    assert_int_equal(scan(12)->status, KILN_RPC_STATUS_OK);
    rpc(0x7f, 13, NULL, 0);
    assert_int_equal(scan(13)->status, KILN_RPC_STATUS_UNKNOWN_METHOD);

    /* Wrong PSK: the driver's reason, Improv "unable to connect", still unprovisioned. */
    fake_clear_output();
    wifi_settings("lab", "wrong");
    assert_int_equal(kiln_device_state(dev), KILN_STATE_WIFI_CONNECTING);
    assert_string_equal(g_fake.wifi_ssid, "lab");
    event(KILN_PORT_EVENT_WIFI_DISCONNECTED, KILN_WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT, NULL);
    scan_t *s = scan(0);
    assert_int_equal(s->improv_errors[s->n_errors - 1], KILN_IMPROV_ERROR_UNABLE_TO_CONNECT);
    assert_int_equal(s->improv_states[s->n_states - 1], KILN_IMPROV_STATE_AUTHORIZED);
    assert_int_equal(kiln_device_state(dev), KILN_STATE_UNPROVISIONED);
    assert_int_equal(kiln_device_reason(dev), KILN_REASON_WIFI_AUTH_FAILED);
    assert_false(fake_kv_has("wifi_ssid"));

    fake_clear_output();
    wifi_settings("lab", "right");
    event(KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL);
    s = scan(0);
    assert_int_equal(s->improv_states[s->n_states - 1], KILN_IMPROV_STATE_PROVISIONED);
    assert_true(fake_kv_has("wifi_ssid"));
    assert_int_equal(g_fake.time_sync_starts, 1);
    assert_int_equal(kiln_device_state(dev), KILN_STATE_TIME_SYNC);
    g_fake.wall_set = true;
    event(KILN_PORT_EVENT_TIME_SYNCED, 0, NULL);
    assert_int_equal(kiln_device_state(dev), KILN_STATE_GATEWAY_CONNECTING);
    assert_string_equal(g_fake.ws_url, "wss://gw.example/v1/device");
    assert_string_equal(g_fake.ws_ca_key, "ca_pem");
    assert_memory_equal(g_fake.ws_subprotocols, "kiln.v1, kiln.jwt.ey", 20);

    fake_clear_output();
    rpc(KILN_RPC_METHOD_GET_INFO, 14, NULL, 0);
    assert_non_null(strstr(scan(14)->data, "\"deviceId\":\"dev-7\""));
    rpc(KILN_RPC_METHOD_GET_STATUS, 15, NULL, 0);
    assert_non_null(strstr(scan(15)->data, "\"state\":\"gateway_connecting\""));
}

/* SPEC §2.3: an empty SET_CA_CERT clears the CA, and the next session trusts the bundle. */
static void test_empty_ca_clears_it(void **state)
{
    (void)state;
    fake_kv_put("ca_pem", "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    bring_online();
    assert_string_equal(g_fake.ws_ca_key, "ca_pem");
    rpc(KILN_RPC_METHOD_SET_CA_CERT, 20, NULL, 0);
    assert_int_equal(scan(20)->status, KILN_RPC_STATUS_OK);
    event(KILN_PORT_EVENT_WS_CLOSED, 1000, NULL);
    advance(2000);
    assert_true(g_fake.ws_opens >= 2);
    assert_string_equal(g_fake.ws_ca_key, "");
    start(); /* and after a reboot too */
    event(KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL);
    event(KILN_PORT_EVENT_TIME_SYNCED, 0, NULL);
    assert_string_equal(g_fake.ws_ca_key, "");
}

static void test_telemetry_resend_after_reconnect(void **state)
{
    (void)state;
    bring_online();
    fake_clear_output();
    advance(3000); /* three samples, each sent as it is taken */
    assert_int_equal(count_sent("\"type\":\"telemetry\""), 3);
    kiln_device_stats_t st;
    kiln_device_stats(dev, &st);
    assert_int_equal(st.queued, 3);
    /* The gateway stores the first; the link drops before the others are acknowledged. */
    char ack[64];
    const char *first = strstr(g_fake.sent[0], "\"seq\":");
    snprintf(ack, sizeof(ack), "{\"type\":\"ack\",\"seq\":1,\"acked\":[%d]}", atoi(first + 6));
    event(KILN_PORT_EVENT_WS_TEXT, 0, ack);
    event(KILN_PORT_EVENT_WS_CLOSED, 0, "peer vanished");
    assert_int_equal(kiln_device_state(dev), KILN_STATE_GATEWAY_CONNECTING);
    kiln_device_stats(dev, &st);
    assert_true(st.last_backoff_ms <= 100);
    /* Waiting to retry, unless the jitter drew 0 ms (about 1 in 100, the host port's random is
     * real): then the next attempt is already under way. */
    if (st.last_backoff_ms > 0) {
        assert_int_equal(kiln_device_reason(dev), KILN_REASON_GATEWAY_CLOSED);
    } else {
        assert_int_equal(kiln_device_reason(dev), KILN_REASON_CONNECTING);
    }
    advance(5000); /* offline: samples pile up past the ring, reconnects fail */
    for (int i = 0; i < 4; i++) {
        event(KILN_PORT_EVENT_WS_CLOSED, 0, "refused");
        kiln_device_stats(dev, &st);
        assert_true(st.last_backoff_ms <= 800);
        advance(900);
    }
    fake_clear_output();
    event(KILN_PORT_EVENT_WS_OPEN, 0, NULL);
    assert_non_null(strstr(g_fake.sent[0], "\"type\":\"hello\""));
    event(KILN_PORT_EVENT_WS_TEXT, 0,
          "{\"type\":\"welcome\",\"seq\":0,\"serverTime\":1,\"heartbeatSec\":5,\"telemetrySec\":1,\"maxBatch\":4}");
    /* Everything unacknowledged, in order, in batches of at most 4, nothing acknowledged again. */
    kiln_device_stats(dev, &st);
    int resent = count_sent("\"type\":\"telemetry_batch\"");
    assert_true(resent >= 2);
    assert_null(strstr(g_fake.sent[1], ack + strlen("{\"type\":\"ack\",\"seq\":1,\"acked\":[")));
    int resent_samples = 0;
    for (size_t i = 0; i < g_fake.sent_count; i++) {
        for (const char *p = g_fake.sent[i]; (p = strstr(p, "\"ts\":")) != NULL; p++) resent_samples++;
    }
    assert_int_equal(resent_samples, (int)st.queued); /* every unacknowledged sample, once */
    assert_true(st.dropped > 0);                      /* ring of 8 overflowed while offline: counted */
    assert_int_equal(st.reconnects, 1);
}

/* One refused attempt: the wait passes, the device connects, the connection fails. Answers the
 * wait drawn for the next attempt. */
static uint32_t refused_once(void)
{
    kiln_device_stats_t st;
    kiln_device_stats(dev, &st);
    advance(st.last_backoff_ms + 10);
    assert_int_equal(kiln_device_reason(dev), KILN_REASON_CONNECTING); /* (a wait of 0: already so) */
    event(KILN_PORT_EVENT_WS_CLOSED, 0, "refused");
    kiln_device_stats(dev, &st);
    return st.last_backoff_ms;
}

static void test_gateway_restart_keeps_the_waits_short(void **state)
{
    (void)state;
    bring_online();
    kiln_device_stats_t st;
    /* The gateway goes away (1001): 20 waits of at most 10 ms (the test's restart_cap_ms),
     * however often the restarting gateway refuses. The plain exponential would have drawn
     * from [0, 100], [0, 200] ... [0, 800]. */
    event(KILN_PORT_EVENT_WS_CLOSED, 1001, "gateway shutdown");
    kiln_device_stats(dev, &st);
    assert_true(st.last_backoff_ms <= 10);
    for (int i = 1; i < 20; i++) assert_true(refused_once() <= 10);
    /* Then the exponential, from its base. */
    uint32_t longest = 0;
    for (int i = 0; i < 6; i++) {
        uint32_t w = refused_once();
        assert_true(w <= 800);
        longest = w > longest ? w : longest;
    }
    assert_true(longest > 10);
    /* Back online; the hold is over. This time the device closes with 1001 itself (its Wi-Fi
     * went): that is no restart of the gateway, and the waits grow as usual. */
    advance(st.last_backoff_ms + 800);
    event(KILN_PORT_EVENT_WS_OPEN, 0, NULL);
    event(KILN_PORT_EVENT_WS_TEXT, 0,
          "{\"type\":\"welcome\",\"seq\":0,\"serverTime\":1,\"heartbeatSec\":5,\"telemetrySec\":1,\"maxBatch\":4}");
    assert_int_equal(kiln_device_state(dev), KILN_STATE_ONLINE);
    event(KILN_PORT_EVENT_WIFI_DISCONNECTED, KILN_WIFI_REASON_BEACON_TIMEOUT, NULL);
    assert_int_equal(g_fake.ws_close_code, 1001);
    event(KILN_PORT_EVENT_WS_CLOSED, 1001, NULL);
    event(KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL);
    longest = 0;
    for (int i = 0; i < 5; i++) {
        uint32_t w = refused_once();
        longest = w > longest ? w : longest;
    }
    assert_true(longest > 10);
}

static void test_revoked_stops(void **state)
{
    (void)state;
    bring_online();
    int opens = g_fake.ws_opens;
    event(KILN_PORT_EVENT_WS_CLOSED, 4003, "revoked");
    assert_int_equal(kiln_device_state(dev), KILN_STATE_ERROR);
    assert_int_equal(kiln_device_reason(dev), KILN_REASON_REVOKED);
    assert_true(fake_serial_contains("revoked this device (close 4003)"));
    advance(120000);
    assert_int_equal(g_fake.ws_opens, opens);
    /* A reboot keeps it stopped; re-provisioning (a new key) lets it try again. */
    start();
    event(KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL);
    event(KILN_PORT_EVENT_TIME_SYNCED, 0, NULL);
    assert_int_equal(kiln_device_reason(dev), KILN_REASON_REVOKED);
    assert_int_equal(g_fake.ws_opens, opens);
    rpc(KILN_RPC_METHOD_GENERATE_KEY, 1, "\x01", 1);
    assert_int_equal(g_fake.ws_opens, opens + 1);
}

static kiln_command_status_t cmd_result(void *ctx, const cJSON *args, cJSON *result, char *error, size_t size)
{
    size_t n = *(size_t *)ctx; /* bytes of text to return */
    const cJSON *fail = cJSON_GetObjectItemCaseSensitive(args, "fail");
    if (cJSON_IsTrue(fail)) {
        snprintf(error, size, "kiln door \"open\"");
        return KILN_COMMAND_ERROR;
    }
    char *text = calloc(n + 1u, 1);
    memset(text, 't', n);
    cJSON_AddStringToObject(result, "text", text);
    cJSON_AddNumberToObject(result, "n", (double)n);
    free(text);
    return KILN_COMMAND_OK;
}

static void test_commands_config_and_bad_messages(void **state)
{
    (void)state;
    bring_online();
    fake_clear_output();
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"command\",\"seq\":2,\"id\":\"c1\",\"name\":\"ping\"}");
    assert_non_null(strstr(last_sent(), "\"id\":\"c1\",\"status\":\"ok\""));
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"command\",\"seq\":3,\"id\":\"c2\",\"name\":\"self_destruct\"}");
    assert_non_null(strstr(last_sent(), "\"status\":\"unsupported\""));
    /* An application command: its result goes out as is; one too big for the send buffer is an error. */
    static size_t result_len = 10;
    assert_int_equal(kiln_device_add_command(dev, "kiln_report", cmd_result, &result_len), KILN_OK);
    assert_int_equal(kiln_device_add_command(dev, "ping", cmd_result, &result_len), KILN_ERR_INVALID_ARG);
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"command\",\"seq\":6,\"id\":\"a1\",\"name\":\"kiln_report\"}");
    assert_non_null(strstr(last_sent(), "\"status\":\"ok\",\"result\":{\"text\":\"tttttttttt\",\"n\":10}"));
    event(KILN_PORT_EVENT_WS_TEXT, 0,
          "{\"type\":\"command\",\"seq\":7,\"id\":\"a2\",\"name\":\"kiln_report\",\"args\":{\"fail\":true}}");
    assert_non_null(strstr(last_sent(), "\"status\":\"error\",\"error\":\"kiln door \\\"open\\\"\""));
    result_len = KILN_DEVICE_TX_MAX;
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"command\",\"seq\":8,\"id\":\"a3\",\"name\":\"kiln_report\"}");
    assert_non_null(strstr(last_sent(), "\"id\":\"a3\",\"status\":\"error\",\"error\":\"result too large\""));
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"command\",\"seq\":4,\"id\":\"c3\",\"name\":\"ping\",\"expiresAt\":5}");
    assert_non_null(strstr(last_sent(), "\"status\":\"expired\""));
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"config\",\"seq\":5,\"telemetrySec\":60}");
    size_t before = g_fake.sent_count;
    advance(5000);
    assert_int_equal(count_sent("\"type\":\"heartbeat\""), 1);
    assert_int_equal(g_fake.sent_count, before + 1); /* no samples at 60 s */
    const char *bad[] = {"", "{", "[]", "{\"type\":\"hello\",\"seq\":1}", "{\"type\":\"ack\",\"seq\":1,\"acked\":[]}",
                         "{\"type\":\"nope\",\"seq\":1}", "\xff\xfe"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        event(KILN_PORT_EVENT_WS_TEXT, 0, bad[i]);
        assert_non_null(strstr(last_sent(), "\"type\":\"error\",\"seq\""));
        assert_int_equal(kiln_device_state(dev), KILN_STATE_ONLINE);
    }
}

/* Built-in identify: default and explicit seconds reach the port and come back as the result;
 * bad args are an `error` with a text, and the port is not called. */
static void test_identify(void **state)
{
    (void)state;
    bring_online();
    fake_clear_output();
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"command\",\"seq\":2,\"id\":\"i1\",\"name\":\"identify\"}");
    assert_non_null(strstr(last_sent(), "\"id\":\"i1\",\"status\":\"ok\",\"result\":{\"seconds\":10}"));
    assert_int_equal(g_fake.identifies, 1);
    assert_int_equal(g_fake.identify_seconds, 10);
    assert_true(fake_serial_contains("command identify (i1)"));

    const char *ok[][2] = {{"{}", "10"}, {"{\"seconds\":1}", "1"}, {"{\"seconds\":42}", "42"},
                           {"{\"seconds\":60}", "60"}, {"{\"seconds\":3.0}", "3"}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        char msg[160], want[80];
        snprintf(msg, sizeof(msg), "{\"type\":\"command\",\"seq\":3,\"id\":\"k%u\",\"name\":\"identify\",\"args\":%s}",
                 (unsigned)i, ok[i][0]);
        event(KILN_PORT_EVENT_WS_TEXT, 0, msg);
        snprintf(want, sizeof(want), "\"id\":\"k%u\",\"status\":\"ok\",\"result\":{\"seconds\":%s}}", (unsigned)i,
                 ok[i][1]);
        assert_non_null(strstr(last_sent(), want));
        assert_int_equal(g_fake.identify_seconds, (uint32_t)atoi(ok[i][1]));
    }
    int calls = g_fake.identifies;
    assert_int_equal(calls, 6);

    const char *bad[] = {"{\"seconds\":0}",    "{\"seconds\":61}",   "{\"seconds\":-5}",  "{\"seconds\":2.5}",
                         "{\"seconds\":\"10\"}", "{\"seconds\":true}", "{\"seconds\":null}", "{\"seconds\":[10]}",
                         "{\"seconds\":1e300}", "{\"secs\":5}",       "{\"seconds\":5,\"x\":1}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char msg[160];
        snprintf(msg, sizeof(msg), "{\"type\":\"command\",\"seq\":4,\"id\":\"b%u\",\"name\":\"identify\",\"args\":%s}",
                 (unsigned)i, bad[i]);
        event(KILN_PORT_EVENT_WS_TEXT, 0, msg);
        const char *sent = last_sent();
        char id[16];
        snprintf(id, sizeof(id), "\"id\":\"b%u\"", (unsigned)i);
        assert_non_null(strstr(sent, id));
        assert_non_null(strstr(sent, "\"status\":\"error\""));
        assert_null(strstr(sent, "\"result\""));
        const char *why = i < 9 ? "\"error\":\"identify: seconds must be a whole number from 1 to 60\""
                                : "\"error\":\"identify takes one argument, seconds (1..60)\"";
        if (strstr(sent, why) == NULL) fail_msg("%s -> %s", bad[i], sent);
    }
    assert_int_equal(g_fake.identifies, calls); /* no bad call reached the port */
    static size_t n = 1;
    assert_int_equal(kiln_device_add_command(dev, "identify", cmd_result, &n), KILN_ERR_INVALID_ARG);
}

/* The gateway's config changes the cadence at once, both ways, and so does a later welcome. */
static void test_config_and_welcome_set_the_cadence(void **state)
{
    (void)state;
    bring_online(); /* welcome: telemetry every 1 s, heartbeat every 5 s */
    fake_clear_output();
    advance(3000);
    assert_int_equal(count_sent("\"type\":\"telemetry\""), 3);

    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"config\",\"seq\":2,\"telemetrySec\":3}");
    assert_true(fake_serial_contains("config: telemetry every 3000 ms, heartbeat every 5000 ms"));
    fake_clear_output();
    advance(9000);
    assert_int_equal(count_sent("\"type\":\"telemetry\""), 3);

    /* A longer heartbeat, then a shorter one: the shorter one applies now, not after the long wait. */
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"config\",\"seq\":3,\"heartbeatSec\":3600}");
    advance(6000); /* the heartbeat already due goes out; the next one is an hour away */
    fake_clear_output();
    advance(60000);
    assert_int_equal(count_sent("\"type\":\"heartbeat\""), 0);
    event(KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"config\",\"seq\":4,\"heartbeatSec\":5,\"telemetrySec\":60}");
    fake_clear_output();
    advance(5000);
    assert_int_equal(count_sent("\"type\":\"heartbeat\""), 1);
    assert_int_equal(count_sent("\"type\":\"telemetry\""), 0);

    /* Reconnected, the welcome's shorter interval applies at once (not after the 60 s wait). */
    event(KILN_PORT_EVENT_WS_CLOSED, 1000, NULL);
    advance(1000);
    event(KILN_PORT_EVENT_WS_OPEN, 0, NULL);
    event(KILN_PORT_EVENT_WS_TEXT, 0,
          "{\"type\":\"welcome\",\"seq\":0,\"serverTime\":1,\"heartbeatSec\":30,\"telemetrySec\":2,\"maxBatch\":4}");
    assert_int_equal(kiln_device_state(dev), KILN_STATE_ONLINE);
    fake_clear_output();
    advance(4000);
    assert_int_equal(count_sent("\"type\":\"telemetry\""), 2);
}

static void test_console_and_garbage(void **state)
{
    (void)state;
    start();
    const char *cmds = "status\nversion\nwifi\ntelemetry now\nhelp\nfrobnicate\n";
    kiln_device_serial_input(dev, (const uint8_t *)cmds, strlen(cmds));
    assert_true(fake_serial_contains("state=unprovisioned reason=no_wifi_credentials"));
    assert_true(fake_serial_contains("kiln-test 9.9.9 protocol=kiln.v1"));
    assert_true(fake_serial_contains("sampled: seq=1"));
    assert_true(fake_serial_contains("unknown command \"frobnicate\""));
    kiln_device_serial_input(dev, (const uint8_t *)"reboot\n", 7);
    advance(200);
    assert_int_equal(g_fake.restarts, 1);
    /* Fixed-seed garbage, with RPC and Improv prefixes mixed in, never crashes it. */
    uint32_t seed = 99;
    uint8_t buf[700];
    for (int round = 0; round < 300; round++) {
        size_t n = kt_random(&seed) % sizeof(buf);
        for (size_t i = 0; i < n; i++) buf[i] = (uint8_t)kt_random(&seed);
        if (n > 8 && round % 3 == 0) memcpy(buf, "IMPROV\x01\x03", 8);
        if (n > 4 && round % 3 == 1) memcpy(buf, "\x01K1:", 4);
        kiln_device_serial_input(dev, buf, n);
        fake_clear_output();
    }
    kiln_device_serial_input(dev, (const uint8_t *)"\nfactory-reset\n", 15);
    assert_true(fake_serial_contains("factory reset done"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_provisioning_over_improv_and_rpc, setup),
        cmocka_unit_test_setup(test_empty_ca_clears_it, setup),
        cmocka_unit_test_setup(test_telemetry_resend_after_reconnect, setup),
        cmocka_unit_test_setup(test_gateway_restart_keeps_the_waits_short, setup),
        cmocka_unit_test_setup(test_revoked_stops, setup),
        cmocka_unit_test_setup(test_commands_config_and_bad_messages, setup),
        cmocka_unit_test_setup(test_identify, setup),
        cmocka_unit_test_setup(test_config_and_welcome_set_the_cadence, setup),
        cmocka_unit_test_setup(test_console_and_garbage, setup),
    };
    int failed = cmocka_run_group_tests(tests, NULL, NULL);
    fake_reset();
    return failed;
}
