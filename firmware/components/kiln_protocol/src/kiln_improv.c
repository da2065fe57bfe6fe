/* Improv Serial v1 frames and RPC data (see kiln_improv.h). Mirrors
 * protocol/src/serial/improv.ts check for check, so both give the same error. */
#include "kiln_improv.h"

#include <string.h>

static const uint8_t MAGIC[6] = {'I', 'M', 'P', 'R', 'O', 'V'};

/* The most string bytes an RPC result can carry: 255 data bytes minus command and L. */
#define RESULT_STRINGS_MAX 253u

static uint8_t sum8(const uint8_t *bytes, size_t len)
{
    uint8_t s = 0;
    for (size_t i = 0; i < len; i++) {
        s = (uint8_t)(s + bytes[i]);
    }
    return s;
}

kiln_err_t kiln_improv_frame_decode(const uint8_t *buf, size_t len, kiln_improv_frame_t *frame)
{
    if (buf == NULL || frame == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    if (len < KILN_IMPROV_HEADER_LEN + 1 || memcmp(buf, MAGIC, sizeof(MAGIC)) != 0) {
        return KILN_ERR_IMPROV_TRUNCATED;
    }
    if (buf[6] != KILN_IMPROV_VERSION) {
        return KILN_ERR_IMPROV_BAD_VERSION;
    }
    size_t total = KILN_IMPROV_HEADER_LEN + buf[8] + 1u;
    if (len < total) {
        return KILN_ERR_IMPROV_TRUNCATED;
    }
    if (len > total) {
        return KILN_ERR_IMPROV_BAD_LENGTH;
    }
    if (buf[total - 1] != sum8(buf, total - 1)) {
        return KILN_ERR_IMPROV_BAD_CHECKSUM;
    }
    frame->type = buf[7];
    frame->data = buf + KILN_IMPROV_HEADER_LEN;
    frame->data_len = buf[8];
    return KILN_OK;
}

kiln_err_t kiln_improv_frame_encode(uint8_t type, const uint8_t *data, size_t data_len,
                                    uint8_t *out, size_t out_size, size_t *out_len)
{
    if ((data == NULL && data_len != 0) || out == NULL || out_len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    if (data_len > KILN_IMPROV_DATA_MAX) {
        return KILN_ERR_IMPROV_BAD_LENGTH;
    }
    size_t total = KILN_IMPROV_HEADER_LEN + data_len + 1u;
    if (out_size < total) {
        return KILN_ERR_NO_MEM;
    }
    memcpy(out, MAGIC, sizeof(MAGIC));
    out[6] = KILN_IMPROV_VERSION;
    out[7] = type;
    out[8] = (uint8_t)data_len;
    if (data_len > 0) {
        memmove(out + KILN_IMPROV_HEADER_LEN, data, data_len);
    }
    out[total - 1] = sum8(out, total - 1);
    *out_len = total;
    return KILN_OK;
}

kiln_err_t kiln_improv_rpc_command_decode(const uint8_t *data, size_t len, kiln_improv_rpc_command_t *command)
{
    if (data == NULL || command == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    if (len < 2 || len < 2u + data[1]) {
        return KILN_ERR_IMPROV_BAD_LENGTH;
    }
    command->command = data[0];
    command->payload = data + 2;
    command->payload_len = data[1];
    return KILN_OK;
}

/* Walks [len][bytes]… from start to end; NULL @p strings only counts. */
static kiln_err_t read_strings(const uint8_t *data, size_t start, size_t end,
                               kiln_improv_string_t *strings, size_t max_strings, size_t *count)
{
    size_t n = 0;
    size_t i = start;
    while (i < end) {
        size_t len = data[i];
        if (i + 1u + len > end) {
            return KILN_ERR_IMPROV_BAD_LENGTH;
        }
        if (strings != NULL) {
            if (n == max_strings) {
                return KILN_ERR_NO_MEM;
            }
            strings[n].bytes = data + i + 1;
            strings[n].len = len;
        }
        n++;
        i += 1u + len;
    }
    *count = n;
    return KILN_OK;
}

kiln_err_t kiln_improv_wifi_settings_decode(const uint8_t *payload, size_t len,
                                            kiln_improv_string_t *ssid, kiln_improv_string_t *password)
{
    if ((payload == NULL && len != 0) || ssid == NULL || password == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    size_t count = 0;
    kiln_err_t err = read_strings(payload, 0, len, NULL, 0, &count);
    if (err != KILN_OK) {
        return err;
    }
    if (count != 2) {
        return KILN_ERR_IMPROV_BAD_LENGTH;
    }
    kiln_improv_string_t both[2];
    (void)read_strings(payload, 0, len, both, 2, &count);
    *ssid = both[0];
    *password = both[1];
    return KILN_OK;
}

kiln_err_t kiln_improv_rpc_result_decode(const uint8_t *data, size_t len, uint8_t *command,
                                         kiln_improv_string_t *strings, size_t max_strings, size_t *count)
{
    if (data == NULL || command == NULL || count == NULL || (strings == NULL && max_strings != 0)) {
        return KILN_ERR_INVALID_ARG;
    }
    if (len < 2 || len < 2u + data[1]) {
        return KILN_ERR_IMPROV_BAD_LENGTH;
    }
    size_t found = 0;
    /* Count first: a malformed result is BAD_LENGTH whatever the caller's array size. */
    kiln_err_t err = read_strings(data, 2, 2u + data[1], NULL, 0, &found);
    if (err != KILN_OK) {
        return err;
    }
    if (found > max_strings) {
        return KILN_ERR_NO_MEM;
    }
    if (found > 0) {
        (void)read_strings(data, 2, 2u + data[1], strings, max_strings, &found);
    }
    *command = data[0];
    *count = found;
    return KILN_OK;
}

kiln_err_t kiln_improv_rpc_result_encode(uint8_t command, const kiln_improv_string_t *strings, size_t count,
                                         uint8_t *out, size_t out_size, size_t *out_len)
{
    if ((strings == NULL && count != 0) || out == NULL || out_len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    size_t body = 0;
    for (size_t i = 0; i < count; i++) {
        if (strings[i].bytes == NULL && strings[i].len != 0) {
            return KILN_ERR_INVALID_ARG;
        }
        if (strings[i].len > 255u) {
            return KILN_ERR_IMPROV_BAD_LENGTH;
        }
        body += 1u + strings[i].len;
        if (body > RESULT_STRINGS_MAX) {
            return KILN_ERR_IMPROV_BAD_LENGTH;
        }
    }
    if (out_size < 2u + body) {
        return KILN_ERR_NO_MEM;
    }
    out[0] = command;
    out[1] = (uint8_t)body;
    size_t o = 2;
    for (size_t i = 0; i < count; i++) {
        out[o++] = (uint8_t)strings[i].len;
        if (strings[i].len > 0) {
            memcpy(out + o, strings[i].bytes, strings[i].len);
        }
        o += strings[i].len;
    }
    *out_len = o;
    return KILN_OK;
}
