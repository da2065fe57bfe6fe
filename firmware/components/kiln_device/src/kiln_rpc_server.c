/* Kiln RPC methods of the device (see kiln_rpc_server.h). */
#include "kiln_rpc_server.h"

#include <stdio.h>
#include <string.h>

#include "kiln_format.h"
#include "kiln_json_out.h"
#include "kiln_jwt.h"

#define CA_PREFIX "-----BEGIN CERTIFICATE-----"

/* Sends a response, chunked when longer than one frame. */
static void respond(uint8_t method, uint16_t id, uint8_t status, const void *data, size_t len)
{
    kiln_rpc_frame_t message = {.kind = KILN_RPC_KIND_RESPONSE, .method = method, .id = id, .status = status,
                                .data = data, .data_len = len};
    size_t count = kiln_rpc_chunk_count(len);
    for (size_t i = 0; i < count; i++) {
        kiln_rpc_frame_t chunk;
        uint8_t line[KILN_RPC_LINE_MAX];
        size_t n = 0;
        if (kiln_rpc_message_chunk(&message, i, &chunk) != KILN_OK ||
            kiln_rpc_frame_encode(&chunk, line, sizeof(line), &n) != KILN_OK) {
            return;
        }
        kiln_port_serial_write(line, n);
    }
}

/* Sends the JSON the writer holds as the response (INTERNAL if it did not fit). */
static void respond_json(const kiln_rpc_frame_t *req, const kiln_jout_t *w)
{
    size_t len = 0;
    if (kiln_jout_finish(w, &len) == KILN_OK) {
        respond(req->method, req->id, KILN_RPC_STATUS_OK, w->buf, len);
    } else {
        respond(req->method, req->id, KILN_RPC_STATUS_INTERNAL, NULL, 0);
    }
}

static void member_str(kiln_jout_t *w, const char *key, const char *value)
{
    kiln_jout_key(w, key);
    kiln_jout_str(w, value);
}

static void member_u64(kiln_jout_t *w, const char *key, uint64_t value)
{
    kiln_jout_key(w, key);
    kiln_jout_u64(w, value);
}

static void get_info(kiln_device_t *dev, const kiln_rpc_frame_t *req)
{
    /* tx is the session's buffer; a response is written out before anything else uses it. */
    kiln_jout_t w;
    kiln_jout_init(&w, dev->tx, sizeof(dev->tx));
    kiln_jout_raw(&w, "{");
    kiln_jout_key(&w, "deviceId");
    if (dev->settings.device_id[0] != '\0') {
        kiln_jout_str(&w, dev->settings.device_id);
    } else {
        kiln_jout_raw(&w, "null");
    }
    member_str(&w, "mac", dev->mac);
    member_str(&w, "chip", dev->chip);
    kiln_jout_key(&w, "firmware");
    kiln_jout_raw(&w, "{");
    member_str(&w, "name", dev->cfg.fw_name);
    member_str(&w, "version", dev->cfg.fw_version);
    kiln_jout_raw(&w, "}");
    member_str(&w, "state", kiln_device_state_name(dev->state));
    kiln_jout_raw(&w, "}");
    respond_json(req, &w);
}

static const char *link_name(link_state_t s) { return s == LINK_UP ? "up" : s == LINK_CONNECTING ? "connecting" : "down"; }

static void get_status(kiln_device_t *dev, const kiln_rpc_frame_t *req)
{
    kiln_device_stats_t st;
    kiln_device_stats(dev, &st);
    kiln_jout_t w;
    kiln_jout_init(&w, dev->tx, sizeof(dev->tx));
    kiln_jout_raw(&w, "{");
    member_str(&w, "state", kiln_device_state_name(dev->state));
    member_str(&w, "reason", kiln_device_reason_name(dev->reason));
    member_str(&w, "wifi", link_name(dev->wifi));
    member_str(&w, "gateway", dev->welcomed ? "online" : link_name(dev->ws));
    member_u64(&w, "queued", st.queued);
    kiln_jout_key(&w, "telemetry");
    kiln_jout_raw(&w, "{");
    member_u64(&w, "samples", st.samples);
    member_u64(&w, "dropped", st.dropped);
    member_u64(&w, "acked", st.acked);
    kiln_jout_raw(&w, "}");
    member_u64(&w, "reconnects", st.reconnects);
    member_u64(&w, "seq", st.seq);
    kiln_jout_raw(&w, "}");
    respond_json(req, &w);
}

static bool is_text(const uint8_t *p, size_t len)
{
    return kiln_format_matches(KILN_FORMAT_TEXT, (const char *)p, len);
}

/* Stores a string setting: BAD_VALUE, STORAGE or OK. */
static uint8_t store_string(kiln_device_t *dev, const char *key, char *field, size_t size, const uint8_t *v,
                            size_t len)
{
    if (len >= size) {
        return KILN_RPC_STATUS_BAD_VALUE;
    }
    char value[KILN_URL_MAX + 1];
    memcpy(value, v, len);
    value[len] = '\0';
    if (kiln_settings_save_str(key, value) != KILN_OK) {
        return KILN_RPC_STATUS_STORAGE;
    }
    memcpy(field, value, len + 1u);
    kiln_dev_settings_changed(dev);
    return KILN_RPC_STATUS_OK;
}

static uint8_t set_gateway(kiln_device_t *dev, const kiln_rpc_frame_t *req)
{
    const char *u = (const char *)req->data;
    size_t len = req->data_len;
    bool wss = len > 6 && memcmp(u, "wss://", 6) == 0;
    bool ws = len > 5 && memcmp(u, "ws://", 5) == 0;
    if ((!wss && !ws) || len > KILN_URL_MAX || !is_text(req->data, len) || memchr(u, ' ', len) != NULL) {
        return KILN_RPC_STATUS_BAD_VALUE;
    }
    if (ws) {
        kiln_dev_log(dev, KILN_LOG_WARN, "gateway URL is plain ws:// (development only: no TLS)");
    }
    return store_string(dev, KILN_KV_GATEWAY, dev->settings.url, sizeof(dev->settings.url), req->data, len);
}

/* An empty value clears the CA: the device then trusts its CA bundle (SPEC.md §2.3). */
static uint8_t set_ca(kiln_device_t *dev, const kiln_rpc_frame_t *req)
{
    bool clear = req->data_len == 0;
    if (!clear &&
        (req->data_len < sizeof(CA_PREFIX) - 1u || memcmp(req->data, CA_PREFIX, sizeof(CA_PREFIX) - 1u) != 0)) {
        return KILN_RPC_STATUS_BAD_VALUE;
    }
    if (kiln_port_kv_set(KILN_KV_CA, clear ? "" : (const char *)req->data, req->data_len) != KILN_PORT_OK) {
        return KILN_RPC_STATUS_STORAGE;
    }
    dev->settings.has_ca = !clear;
    kiln_dev_settings_changed(dev);
    return KILN_RPC_STATUS_OK;
}

static uint8_t set_device_id(kiln_device_t *dev, const kiln_rpc_frame_t *req)
{
    if (!kiln_is_device_id((const char *)req->data, req->data_len)) {
        return KILN_RPC_STATUS_BAD_VALUE;
    }
    return store_string(dev, KILN_KV_DEVICE_ID, dev->settings.device_id, sizeof(dev->settings.device_id), req->data,
                        req->data_len);
}

static void public_key(kiln_device_t *dev, const kiln_rpc_frame_t *req)
{
    kiln_p256_public_key_t pub;
    char jwk[KILN_JWK_JSON_MAX];
    size_t len = 0;
    if (!dev->settings.has_key) {
        respond(req->method, req->id, KILN_RPC_STATUS_NO_KEY, NULL, 0);
    } else if (kiln_port_p256_public_key(dev->settings.key, pub.xy) != KILN_PORT_OK ||
               kiln_jwk_public_key_format(&pub, jwk, sizeof(jwk), &len) != KILN_OK) {
        respond(req->method, req->id, KILN_RPC_STATUS_INTERNAL, NULL, 0);
    } else {
        respond(req->method, req->id, KILN_RPC_STATUS_OK, jwk, len);
    }
}

static void generate_key(kiln_device_t *dev, const kiln_rpc_frame_t *req)
{
    if (req->data_len != 1 || req->data[0] > 1) {
        respond(req->method, req->id, KILN_RPC_STATUS_BAD_VALUE, NULL, 0);
        return;
    }
    if (!dev->settings.has_key || req->data[0] == 1) {
        uint8_t d[32];
        uint8_t pub[64];
        if (kiln_port_p256_generate(d, pub) != KILN_PORT_OK) {
            respond(req->method, req->id, KILN_RPC_STATUS_INTERNAL, NULL, 0);
            return;
        }
        kiln_port_err_t err = kiln_port_kv_set(KILN_KV_KEY, d, sizeof(d));
        if (err != KILN_PORT_OK) {
            memset(d, 0, sizeof(d));
            respond(req->method, req->id, KILN_RPC_STATUS_STORAGE, NULL, 0);
            return;
        }
        memcpy(dev->settings.key, d, sizeof(d));
        memset(d, 0, sizeof(d));
        dev->settings.has_key = true;
        kiln_dev_log(dev, KILN_LOG_INFO, "new P-256 device key generated");
        kiln_dev_settings_changed(dev);
    }
    public_key(dev, req);
}

static void dispatch(kiln_device_t *dev, const kiln_rpc_frame_t *req)
{
    uint8_t status = KILN_RPC_STATUS_OK;
    switch (req->method) {
    case KILN_RPC_METHOD_GET_INFO:
        get_info(dev, req);
        return;
    case KILN_RPC_METHOD_GET_STATUS:
        get_status(dev, req);
        return;
    case KILN_RPC_METHOD_GENERATE_KEY:
        generate_key(dev, req);
        return;
    case KILN_RPC_METHOD_GET_PUBLIC_KEY:
        public_key(dev, req);
        return;
    case KILN_RPC_METHOD_SET_GATEWAY:
        status = set_gateway(dev, req);
        break;
    case KILN_RPC_METHOD_SET_CA_CERT:
        status = set_ca(dev, req);
        break;
    case KILN_RPC_METHOD_SET_DEVICE_ID:
        status = set_device_id(dev, req);
        break;
    case KILN_RPC_METHOD_FACTORY_RESET:
        respond(req->method, req->id, KILN_RPC_STATUS_OK, NULL, 0);
        kiln_dev_factory_reset(dev);
        return;
    case KILN_RPC_METHOD_REBOOT:
        respond(req->method, req->id, KILN_RPC_STATUS_OK, NULL, 0);
        dev->reboot_at_ms = kiln_port_uptime_ms() + 100u;
        return;
    default:
        status = KILN_RPC_STATUS_UNKNOWN_METHOD;
        break;
    }
    respond(req->method, req->id, status, NULL, 0);
}

void kiln_rpc_server_line(kiln_device_t *dev, const uint8_t *line, size_t len)
{
    uint8_t payload[KILN_RPC_PAYLOAD_MAX];
    kiln_rpc_frame_t frame;
    kiln_err_t err = kiln_rpc_frame_decode(line, len, payload, &frame);
    if (err != KILN_OK) {
        respond(0, 0, KILN_RPC_STATUS_BAD_FRAME, NULL, 0);
        return;
    }
    if (frame.kind != KILN_RPC_KIND_REQUEST || frame.status != 0) {
        return; /* responses are the host's to read; a request carries status 0 */
    }
    kiln_rpc_frame_t message;
    bool complete = false;
    err = kiln_rpc_assembler_push(&dev->rpc, &frame, &message, &complete);
    if (err != KILN_OK) {
        respond(frame.method, frame.id, (uint8_t)kiln_rpc_status_for_error(err), NULL, 0);
    } else if (complete) {
        dispatch(dev, &message);
    }
}
