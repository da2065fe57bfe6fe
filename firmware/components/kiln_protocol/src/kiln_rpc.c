/* Kiln RPC frame lines and chunk reassembly (see kiln_rpc.h). The check order
 * mirrors protocol/src/serial/rpc-frame.ts so both sides report the same code. */
#include "kiln_rpc.h"

#include <string.h>

#include "kiln_base64.h"
#include "kiln_crc32.h"

static const uint8_t PREFIX[KILN_RPC_PREFIX_LEN] = {0x01, 'K', '1', ':'};

static uint16_t get_u16le(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static void put_u16le(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static bool kind_ok(uint8_t kind) { return kind == KILN_RPC_KIND_REQUEST || kind == KILN_RPC_KIND_RESPONSE; }

kiln_err_t kiln_rpc_frame_decode(const uint8_t *line, size_t len, uint8_t payload[KILN_RPC_PAYLOAD_MAX],
                                 kiln_rpc_frame_t *frame)
{
    if (line == NULL || payload == NULL || frame == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    if (len > KILN_RPC_LINE_MAX) {
        return KILN_ERR_RPC_TOO_LONG;
    }
    for (size_t i = 0; i < 3; i++) {
        if (i >= len || line[i] != PREFIX[i]) {
            return KILN_ERR_RPC_BAD_VERSION;
        }
    }
    if (len < 4 || line[3] != ':') {
        return KILN_ERR_RPC_BAD_ENCODING;
    }
    size_t end = line[len - 1] == '\n' ? len - 1 : len;
    size_t p_len = 0;
    kiln_err_t err = kiln_base64_decode((const char *)line + KILN_RPC_PREFIX_LEN, end - KILN_RPC_PREFIX_LEN,
                                        payload, KILN_RPC_PAYLOAD_MAX, &p_len);
    if (err == KILN_ERR_BAD_ENCODING) {
        return KILN_ERR_RPC_BAD_ENCODING;
    }
    /* NO_MEM means P is longer than any valid frame: too much data. */
    if (err != KILN_OK || p_len < KILN_RPC_HEADER_LEN + KILN_RPC_CRC_LEN) {
        return KILN_ERR_RPC_BAD_LENGTH;
    }
    size_t body_len = p_len - KILN_RPC_CRC_LEN;
    if (get_u32le(payload + body_len) != kiln_crc32(KILN_CRC32_INIT, payload, body_len)) {
        return KILN_ERR_RPC_BAD_CHECKSUM;
    }
    if (!kind_ok(payload[0])) {
        return KILN_ERR_RPC_BAD_KIND;
    }
    if ((payload[5] & ~KILN_RPC_FLAG_MORE) != 0) {
        return KILN_ERR_RPC_BAD_FLAGS;
    }
    frame->kind = payload[0];
    frame->method = payload[1];
    frame->id = get_u16le(payload + 2);
    frame->status = payload[4];
    frame->flags = payload[5];
    frame->chunk = get_u16le(payload + 6);
    frame->data = payload + KILN_RPC_HEADER_LEN;
    frame->data_len = body_len - KILN_RPC_HEADER_LEN;
    return KILN_OK;
}

kiln_err_t kiln_rpc_frame_encode(const kiln_rpc_frame_t *frame, uint8_t *line, size_t line_size, size_t *line_len)
{
    if (frame == NULL || line == NULL || line_len == NULL || (frame->data == NULL && frame->data_len != 0)) {
        return KILN_ERR_INVALID_ARG;
    }
    if (frame->data_len > KILN_RPC_CHUNK_MAX) {
        return KILN_ERR_RPC_BAD_LENGTH;
    }
    if (!kind_ok(frame->kind)) {
        return KILN_ERR_RPC_BAD_KIND;
    }
    if ((frame->flags & ~KILN_RPC_FLAG_MORE) != 0) {
        return KILN_ERR_RPC_BAD_FLAGS;
    }
    uint8_t p[KILN_RPC_PAYLOAD_MAX];
    p[0] = frame->kind;
    p[1] = frame->method;
    put_u16le(p + 2, frame->id);
    p[4] = frame->status;
    p[5] = frame->flags;
    put_u16le(p + 6, frame->chunk);
    if (frame->data_len > 0) {
        memcpy(p + KILN_RPC_HEADER_LEN, frame->data, frame->data_len);
    }
    size_t body_len = KILN_RPC_HEADER_LEN + frame->data_len;
    put_u32le(p + body_len, kiln_crc32(KILN_CRC32_INIT, p, body_len));
    size_t p_len = body_len + KILN_RPC_CRC_LEN;

    if (line_size < KILN_RPC_PREFIX_LEN + KILN_BASE64_ENCODED_LEN(p_len) + 1u) {
        return KILN_ERR_NO_MEM;
    }
    memcpy(line, PREFIX, KILN_RPC_PREFIX_LEN);
    size_t text_len = 0;
    kiln_err_t err = kiln_base64_encode(p, p_len, (char *)line + KILN_RPC_PREFIX_LEN,
                                        line_size - KILN_RPC_PREFIX_LEN - 1u, &text_len);
    if (err != KILN_OK) {
        return err;
    }
    line[KILN_RPC_PREFIX_LEN + text_len] = '\n';
    *line_len = KILN_RPC_PREFIX_LEN + text_len + 1u;
    return KILN_OK;
}

size_t kiln_rpc_chunk_count(size_t value_len)
{
    return value_len == 0 ? 1u : (value_len + KILN_RPC_CHUNK_MAX - 1u) / KILN_RPC_CHUNK_MAX;
}

kiln_err_t kiln_rpc_message_chunk(const kiln_rpc_frame_t *message, size_t index, kiln_rpc_frame_t *chunk)
{
    if (message == NULL || chunk == NULL || (message->data == NULL && message->data_len != 0)) {
        return KILN_ERR_INVALID_ARG;
    }
    if (message->data_len > KILN_RPC_VALUE_MAX) {
        return KILN_ERR_RPC_TOO_LARGE;
    }
    size_t count = kiln_rpc_chunk_count(message->data_len);
    if (index >= count) {
        return KILN_ERR_INVALID_ARG;
    }
    size_t offset = index * KILN_RPC_CHUNK_MAX;
    size_t left = message->data_len - offset;
    *chunk = *message;
    chunk->flags = index + 1u < count ? KILN_RPC_FLAG_MORE : 0u;
    chunk->chunk = (uint16_t)index;
    chunk->data = message->data_len == 0 ? message->data : message->data + offset;
    chunk->data_len = left < KILN_RPC_CHUNK_MAX ? left : KILN_RPC_CHUNK_MAX;
    return KILN_OK;
}

kiln_rpc_status_t kiln_rpc_status_for_error(kiln_err_t err)
{
    if (err == KILN_OK) return KILN_RPC_STATUS_OK;
    if (err >= KILN_ERR_RPC_TOO_LONG && err <= KILN_ERR_RPC_BAD_FLAGS) return KILN_RPC_STATUS_BAD_FRAME;
    if (err == KILN_ERR_RPC_BAD_CHUNK) return KILN_RPC_STATUS_BAD_CHUNK;
    if (err == KILN_ERR_RPC_TOO_LARGE) return KILN_RPC_STATUS_TOO_LARGE;
    return KILN_RPC_STATUS_INTERNAL;
}

void kiln_rpc_assembler_init(kiln_rpc_assembler_t *assembler, uint8_t *buf, size_t cap)
{
    if (assembler == NULL) {
        return;
    }
    memset(assembler, 0, sizeof(*assembler));
    assembler->buf = buf;
    assembler->cap = buf == NULL ? 0 : (cap < KILN_RPC_VALUE_MAX ? cap : KILN_RPC_VALUE_MAX);
}

void kiln_rpc_assembler_reset(kiln_rpc_assembler_t *assembler)
{
    if (assembler != NULL) {
        assembler->active = false;
        assembler->len = 0;
    }
}

static bool same_message(const kiln_rpc_assembler_t *a, const kiln_rpc_frame_t *f)
{
    return a->active && a->kind == f->kind && a->id == f->id;
}

kiln_err_t kiln_rpc_assembler_push(kiln_rpc_assembler_t *assembler, const kiln_rpc_frame_t *frame,
                                   kiln_rpc_frame_t *message, bool *complete)
{
    if (assembler == NULL || frame == NULL || message == NULL || complete == NULL ||
        (frame->data == NULL && frame->data_len != 0)) {
        return KILN_ERR_INVALID_ARG;
    }
    *complete = false;
    bool more = (frame->flags & KILN_RPC_FLAG_MORE) != 0;
    if (frame->chunk == 0) {
        /* A new message with this kind and id replaces an unfinished one. */
        if (same_message(assembler, frame)) {
            kiln_rpc_assembler_reset(assembler);
        }
        if (frame->data_len > assembler->cap) {
            return KILN_ERR_RPC_TOO_LARGE;
        }
        if (!more) {
            /* One frame is the whole message: hand it over without copying. */
            *message = *frame;
            message->flags = 0;
            *complete = true;
            return KILN_OK;
        }
        /* Only one chunked message fits: the newest wins, as a bounded map would evict. */
        assembler->active = true;
        assembler->kind = frame->kind;
        assembler->id = frame->id;
        assembler->method = frame->method;
        assembler->len = 0;
        assembler->next_chunk = 0;
    } else if (!same_message(assembler, frame) || assembler->method != frame->method ||
               assembler->next_chunk != frame->chunk) {
        if (same_message(assembler, frame)) {
            kiln_rpc_assembler_reset(assembler);
        }
        return KILN_ERR_RPC_BAD_CHUNK;
    }
    if (frame->data_len > assembler->cap - assembler->len) {
        kiln_rpc_assembler_reset(assembler);
        return KILN_ERR_RPC_TOO_LARGE;
    }
    if (frame->data_len > 0) {
        memcpy(assembler->buf + assembler->len, frame->data, frame->data_len);
    }
    assembler->len += frame->data_len;
    assembler->next_chunk++;
    if (more) {
        return KILN_OK;
    }
    *message = *frame;
    message->flags = 0;
    message->chunk = 0;
    message->data = assembler->buf;
    message->data_len = assembler->len;
    assembler->active = false;
    *complete = true;
    return KILN_OK;
}
