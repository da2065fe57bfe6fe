/* kiln.v1 messages of a device (see kiln_client.h). */
#include "kiln_client.h"

#include <string.h>

#include "cJSON.h"
#include "kiln_json_out.h"

#define SAMPLES_PER_BATCH_MAX 64u
#define ERROR_TEXT_MAX 128u

/* {"type":"<type>","seq":<seq> ... : the caller adds members and the closing brace. */
static void begin(kiln_jout_t *w, const char *type, uint32_t seq, char *out, size_t size)
{
    kiln_jout_init(w, out, size);
    kiln_jout_raw(w, "{");
    kiln_jout_key(w, "type");
    kiln_jout_str(w, type);
    kiln_jout_key(w, "seq");
    kiln_jout_u64(w, seq);
}

static kiln_err_t end(kiln_jout_t *w, size_t *len)
{
    kiln_jout_raw(w, "}");
    return kiln_jout_finish(w, len);
}

static void member_str(kiln_jout_t *w, const char *key, const char *value)
{
    kiln_jout_key(w, key);
    kiln_jout_str(w, value);
}

kiln_err_t kiln_client_encode_hello(uint32_t seq, const kiln_hello_t *h, char *out, size_t size, size_t *len)
{
    if (h == NULL || out == NULL || len == NULL || h->device_id == NULL || h->boot_id == NULL ||
        h->fw_name == NULL || h->fw_version == NULL || h->chip == NULL || h->mac == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    kiln_jout_t w;
    begin(&w, "hello", seq, out, size);
    member_str(&w, "deviceId", h->device_id);
    member_str(&w, "bootId", h->boot_id);
    kiln_jout_key(&w, "firmware");
    kiln_jout_raw(&w, "{");
    member_str(&w, "name", h->fw_name);
    member_str(&w, "version", h->fw_version);
    kiln_jout_raw(&w, "}");
    member_str(&w, "chip", h->chip);
    member_str(&w, "mac", h->mac);
    return end(&w, len);
}

/* "ts" and "metrics" of one sample (and its "seq" inside a batch). */
static void add_sample(kiln_jout_t *w, const kiln_telemetry_t *t, const kiln_sample_t *s, int64_t wall_offset_ms,
                       bool with_seq)
{
    if (with_seq) {
        kiln_jout_key(w, "seq");
        kiln_jout_u64(w, s->seq);
    }
    kiln_jout_key(w, "ts");
    kiln_jout_i64(w, wall_offset_ms + (int64_t)s->uptime_ms);
    kiln_jout_key(w, "metrics");
    kiln_jout_raw(w, "{");
    for (size_t i = 0; i < t->source_count; i++) {
        if ((s->present & (1u << i)) != 0) {
            kiln_jout_key(w, t->sources[i].name);
            kiln_jout_num(w, s->values[i]);
        }
    }
    kiln_jout_raw(w, "}");
}

kiln_err_t kiln_client_encode_samples(uint32_t seq, const kiln_telemetry_t *t, kiln_sample_t *const *samples,
                                      size_t n, int64_t wall_offset_ms, char *out, size_t size, size_t *len)
{
    if (t == NULL || samples == NULL || out == NULL || len == NULL || n == 0 || n > SAMPLES_PER_BATCH_MAX) {
        return KILN_ERR_INVALID_ARG;
    }
    kiln_jout_t w;
    if (n == 1) {
        begin(&w, "telemetry", samples[0]->seq, out, size);
        add_sample(&w, t, samples[0], wall_offset_ms, false);
        return end(&w, len);
    }
    begin(&w, "telemetry_batch", seq, out, size);
    kiln_jout_key(&w, "samples");
    kiln_jout_raw(&w, "[");
    for (size_t i = 0; i < n; i++) {
        kiln_jout_sep(&w);
        kiln_jout_raw(&w, "{");
        add_sample(&w, t, samples[i], wall_offset_ms, true);
        kiln_jout_raw(&w, "}");
    }
    kiln_jout_raw(&w, "]");
    return end(&w, len);
}

kiln_err_t kiln_client_encode_heartbeat(uint32_t seq, uint64_t uptime_ms, char *out, size_t size, size_t *len)
{
    if (out == NULL || len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    kiln_jout_t w;
    begin(&w, "heartbeat", seq, out, size);
    kiln_jout_key(&w, "uptimeMs");
    kiln_jout_u64(&w, uptime_ms);
    return end(&w, len);
}

kiln_err_t kiln_client_encode_command_result(uint32_t seq, const char *id, const char *status,
                                             const cJSON *result, const char *error, char *out, size_t size,
                                             size_t *len)
{
    if (id == NULL || status == NULL || out == NULL || len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    kiln_jout_t w;
    begin(&w, "command_result", seq, out, size);
    member_str(&w, "id", id);
    member_str(&w, "status", status);
    if (result != NULL) {
        kiln_jout_key(&w, "result");
        kiln_jout_cjson(&w, result); /* printed in place: no copy of the tree */
    }
    if (error != NULL) {
        size_t full = strlen(error);
        size_t n = full > ERROR_TEXT_MAX ? ERROR_TEXT_MAX : full;
        /* Cut at a UTF-8 boundary so the text stays valid. */
        while (n > 0 && n < full && ((unsigned char)error[n] & 0xC0u) == 0x80u) {
            n--;
        }
        /* SPEC `text`: no control characters, so an app's "bad\nvalue" still passes the gateway. */
        char text[ERROR_TEXT_MAX];
        for (size_t i = 0; i < n; i++) {
            unsigned char c = (unsigned char)error[i];
            text[i] = (c < 0x20u || c == 0x7fu) ? ' ' : (char)c;
        }
        kiln_jout_key(&w, "error");
        kiln_jout_strn(&w, text, n);
    }
    return end(&w, len);
}

kiln_err_t kiln_client_encode_error(uint32_t seq, const char *code, const char *message, bool has_ref, uint32_t ref,
                                    char *out, size_t size, size_t *len)
{
    if (code == NULL || message == NULL || out == NULL || len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    kiln_jout_t w;
    begin(&w, "error", seq, out, size);
    member_str(&w, "code", code);
    member_str(&w, "message", message);
    if (has_ref) {
        kiln_jout_key(&w, "ref");
        kiln_jout_u64(&w, ref);
    }
    return end(&w, len);
}

static const cJSON *member(const cJSON *o, const char *name) { return cJSON_GetObjectItemCaseSensitive(o, name); }

static uint32_t u32_member(const cJSON *o, const char *name) { return (uint32_t)member(o, name)->valuedouble; }

kiln_err_t kiln_client_parse(const char *text, size_t len, kiln_incoming_t *in, cJSON **root,
                             kiln_message_result_t *result)
{
    if (text == NULL || in == NULL || root == NULL || result == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    *root = NULL;
    cJSON *tree = NULL;
    kiln_err_t err = kiln_message_validate(text, len, KILN_SENDER_GATEWAY, result, &tree);
    if (err != KILN_OK) {
        return err;
    }
    /* Validated: every required member exists with the contract's type and range. */
    memset(in, 0, sizeof(*in));
    in->seq = u32_member(tree, "seq");
    const char *type = result->type;
    if (strcmp(type, "welcome") == 0) {
        in->kind = KILN_IN_WELCOME;
        in->u.welcome.server_time_ms = (int64_t)member(tree, "serverTime")->valuedouble;
        in->u.welcome.heartbeat_sec = u32_member(tree, "heartbeatSec");
        in->u.welcome.telemetry_sec = u32_member(tree, "telemetrySec");
        in->u.welcome.max_batch = u32_member(tree, "maxBatch");
    } else if (strcmp(type, "ack") == 0) {
        in->kind = KILN_IN_ACK;
        in->u.ack.acked = member(tree, "acked");
    } else if (strcmp(type, "command") == 0) {
        in->kind = KILN_IN_COMMAND;
        in->u.command.id = member(tree, "id")->valuestring;
        in->u.command.name = member(tree, "name")->valuestring;
        in->u.command.args = member(tree, "args");
        const cJSON *exp = member(tree, "expiresAt");
        in->u.command.has_expires = exp != NULL;
        in->u.command.expires_at_ms = exp != NULL ? (int64_t)exp->valuedouble : 0;
    } else if (strcmp(type, "config") == 0) {
        in->kind = KILN_IN_CONFIG;
        in->u.config.has_telemetry = member(tree, "telemetrySec") != NULL;
        in->u.config.has_heartbeat = member(tree, "heartbeatSec") != NULL;
        in->u.config.telemetry_sec = in->u.config.has_telemetry ? u32_member(tree, "telemetrySec") : 0;
        in->u.config.heartbeat_sec = in->u.config.has_heartbeat ? u32_member(tree, "heartbeatSec") : 0;
    } else if (strcmp(type, "error") == 0) {
        in->kind = KILN_IN_ERROR;
        in->u.error.code = member(tree, "code")->valuestring;
        in->u.error.message = member(tree, "message")->valuestring;
    } else {
        in->kind = KILN_IN_HEARTBEAT;
    }
    *root = tree;
    return KILN_OK;
}
