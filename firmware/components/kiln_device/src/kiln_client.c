/* kiln.v1 messages of a device (see kiln_client.h). */
#include "kiln_client.h"

#include <string.h>

#include "cJSON.h"

#define SAMPLES_PER_BATCH_MAX 64u
#define ERROR_TEXT_MAX 128u

static cJSON *new_message(const char *type, uint32_t seq)
{
    cJSON *m = cJSON_CreateObject();
    if (m != NULL && (cJSON_AddStringToObject(m, "type", type) == NULL ||
                      cJSON_AddNumberToObject(m, "seq", (double)seq) == NULL)) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}

/* Prints (compact) into out and frees the tree; NO_MEM if it does not fit. */
static kiln_err_t finish(cJSON *m, bool ok, char *out, size_t size, size_t *len)
{
    kiln_err_t err = KILN_ERR_NO_MEM;
    if (m != NULL && ok && size <= (size_t)INT32_MAX && cJSON_PrintPreallocated(m, out, (int)size, false)) {
        *len = strlen(out);
        err = KILN_OK;
    }
    cJSON_Delete(m);
    return err;
}

kiln_err_t kiln_client_encode_hello(uint32_t seq, const kiln_hello_t *h, char *out, size_t size, size_t *len)
{
    if (h == NULL || out == NULL || len == NULL || h->device_id == NULL || h->boot_id == NULL ||
        h->fw_name == NULL || h->fw_version == NULL || h->chip == NULL || h->mac == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    cJSON *m = new_message("hello", seq);
    cJSON *fw = m != NULL ? cJSON_AddObjectToObject(m, "firmware") : NULL;
    bool ok = fw != NULL && cJSON_AddStringToObject(m, "deviceId", h->device_id) != NULL &&
              cJSON_AddStringToObject(m, "bootId", h->boot_id) != NULL &&
              cJSON_AddStringToObject(fw, "name", h->fw_name) != NULL &&
              cJSON_AddStringToObject(fw, "version", h->fw_version) != NULL &&
              cJSON_AddStringToObject(m, "chip", h->chip) != NULL && cJSON_AddStringToObject(m, "mac", h->mac) != NULL;
    return finish(m, ok, out, size, len);
}

/* {"metrics":{...}} members of one sample added to obj, with seq/ts as asked. */
static bool add_sample(cJSON *obj, const kiln_telemetry_t *t, const kiln_sample_t *s, int64_t wall_offset_ms,
                       bool with_seq)
{
    if (with_seq && cJSON_AddNumberToObject(obj, "seq", (double)s->seq) == NULL) {
        return false;
    }
    if (cJSON_AddNumberToObject(obj, "ts", (double)(wall_offset_ms + (int64_t)s->uptime_ms)) == NULL) {
        return false;
    }
    cJSON *metrics = cJSON_AddObjectToObject(obj, "metrics");
    if (metrics == NULL) {
        return false;
    }
    for (size_t i = 0; i < t->source_count; i++) {
        if ((s->present & (1u << i)) != 0 && cJSON_AddNumberToObject(metrics, t->sources[i].name, s->values[i]) == NULL) {
            return false;
        }
    }
    return true;
}

kiln_err_t kiln_client_encode_samples(uint32_t seq, const kiln_telemetry_t *t, kiln_sample_t *const *samples,
                                      size_t n, int64_t wall_offset_ms, char *out, size_t size, size_t *len)
{
    if (t == NULL || samples == NULL || out == NULL || len == NULL || n == 0 || n > SAMPLES_PER_BATCH_MAX) {
        return KILN_ERR_INVALID_ARG;
    }
    if (n == 1) {
        cJSON *m = new_message("telemetry", samples[0]->seq);
        return finish(m, m != NULL && add_sample(m, t, samples[0], wall_offset_ms, false), out, size, len);
    }
    cJSON *m = new_message("telemetry_batch", seq);
    cJSON *arr = m != NULL ? cJSON_AddArrayToObject(m, "samples") : NULL;
    bool ok = arr != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *item = cJSON_CreateObject();
        ok = item != NULL && cJSON_AddItemToArray(arr, item) && add_sample(item, t, samples[i], wall_offset_ms, true);
        if (!ok && item != NULL && cJSON_GetArraySize(arr) <= (int)i) {
            cJSON_Delete(item);
        }
    }
    return finish(m, ok, out, size, len);
}

kiln_err_t kiln_client_encode_heartbeat(uint32_t seq, uint64_t uptime_ms, char *out, size_t size, size_t *len)
{
    if (out == NULL || len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    cJSON *m = new_message("heartbeat", seq);
    return finish(m, m != NULL && cJSON_AddNumberToObject(m, "uptimeMs", (double)uptime_ms) != NULL, out, size, len);
}

kiln_err_t kiln_client_encode_command_result(uint32_t seq, const char *id, const char *status,
                                             const cJSON *result, const char *error, char *out, size_t size,
                                             size_t *len)
{
    if (id == NULL || status == NULL || out == NULL || len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    cJSON *m = new_message("command_result", seq);
    bool ok = m != NULL && cJSON_AddStringToObject(m, "id", id) != NULL &&
              cJSON_AddStringToObject(m, "status", status) != NULL;
    if (ok && result != NULL) {
        cJSON *copy = cJSON_Duplicate(result, true);
        ok = copy != NULL && cJSON_AddItemToObject(m, "result", copy);
        if (!ok) {
            cJSON_Delete(copy);
        }
    }
    if (ok && error != NULL) {
        char text[ERROR_TEXT_MAX + 1];
        size_t n = strlen(error);
        n = n > ERROR_TEXT_MAX ? ERROR_TEXT_MAX : n;
        /* Cut at a UTF-8 boundary so the text stays valid. */
        while (n > 0 && n < strlen(error) && ((unsigned char)error[n] & 0xC0u) == 0x80u) {
            n--;
        }
        memcpy(text, error, n);
        text[n] = '\0';
        ok = cJSON_AddStringToObject(m, "error", text) != NULL;
    }
    return finish(m, ok, out, size, len);
}

kiln_err_t kiln_client_encode_error(uint32_t seq, const char *code, const char *message, bool has_ref, uint32_t ref,
                                    char *out, size_t size, size_t *len)
{
    if (code == NULL || message == NULL || out == NULL || len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    cJSON *m = new_message("error", seq);
    bool ok = m != NULL && cJSON_AddStringToObject(m, "code", code) != NULL &&
              cJSON_AddStringToObject(m, "message", message) != NULL &&
              (!has_ref || cJSON_AddNumberToObject(m, "ref", (double)ref) != NULL);
    return finish(m, ok, out, size, len);
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
