/*
 * Kiln serial RPC frames (SPEC.md §2.3): one line,
 *   0x01 'K' '1' ':' + base64(P) + '\n'   (at most 512 bytes),
 * P = 8-byte header | 0..256 data bytes | CRC32 (Espressif) of header and data, LE.
 * Values over 256 bytes travel as numbered chunks; kiln_rpc_assembler_t puts them
 * back together in a caller-provided buffer. Nothing here allocates.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_RPC_PREFIX_LEN   4u     /*!< 0x01 'K' '1' ':' */
#define KILN_RPC_LINE_MAX     512u   /*!< whole line, '\n' included */
#define KILN_RPC_HEADER_LEN   8u
#define KILN_RPC_CRC_LEN      4u
#define KILN_RPC_CHUNK_MAX    256u   /*!< data bytes per frame */
#define KILN_RPC_PAYLOAD_MAX  (KILN_RPC_HEADER_LEN + KILN_RPC_CHUNK_MAX + KILN_RPC_CRC_LEN)
#ifndef KILN_RPC_VALUE_MAX /* Kconfig KILN_RPC_VALUE_MAX on the chip */
#define KILN_RPC_VALUE_MAX    8192u  /*!< a reassembled value */
#endif
#define KILN_RPC_FLAG_MORE    0x01u  /*!< more chunks of this message follow */

typedef enum {
    KILN_RPC_KIND_REQUEST = 0x01,
    KILN_RPC_KIND_RESPONSE = 0x02,
} kiln_rpc_kind_t;

typedef enum {
    KILN_RPC_METHOD_GET_INFO = 0x01,
    KILN_RPC_METHOD_GET_STATUS = 0x02,
    KILN_RPC_METHOD_SET_GATEWAY = 0x10,
    KILN_RPC_METHOD_SET_CA_CERT = 0x11,
    KILN_RPC_METHOD_SET_DEVICE_ID = 0x12,
    KILN_RPC_METHOD_GENERATE_KEY = 0x20,
    KILN_RPC_METHOD_GET_PUBLIC_KEY = 0x21,
    KILN_RPC_METHOD_FACTORY_RESET = 0x30,
    KILN_RPC_METHOD_REBOOT = 0x31,
} kiln_rpc_method_t;

typedef enum {
    KILN_RPC_STATUS_OK = 0x00,
    KILN_RPC_STATUS_UNKNOWN_METHOD = 0x01,
    KILN_RPC_STATUS_BAD_FRAME = 0x02,
    KILN_RPC_STATUS_BAD_VALUE = 0x03,
    KILN_RPC_STATUS_TOO_LARGE = 0x04,
    KILN_RPC_STATUS_BAD_CHUNK = 0x05,
    KILN_RPC_STATUS_BUSY = 0x06,
    KILN_RPC_STATUS_NO_KEY = 0x07,
    KILN_RPC_STATUS_STORAGE = 0x08,
    KILN_RPC_STATUS_INTERNAL = 0x09,
} kiln_rpc_status_t;

typedef struct {
    uint8_t kind;          /*!< kiln_rpc_kind_t */
    uint8_t method;        /*!< kiln_rpc_method_t, or any value (the device answers UNKNOWN_METHOD) */
    uint16_t id;           /*!< request id; responses echo it */
    uint8_t status;        /*!< 0 in requests; kiln_rpc_status_t in responses */
    uint8_t flags;         /*!< KILN_RPC_FLAG_MORE or 0 */
    uint16_t chunk;        /*!< chunk index, from 0 */
    const uint8_t *data;   /*!< not owned: into the decode buffer, or the caller's value */
    size_t data_len;       /*!< 0..256 in a frame; up to 8192 for a reassembled message */
} kiln_rpc_frame_t;

/**
 * @brief Decodes one frame line, with or without its trailing '\n'.
 *
 * Checks run in the contract's order; the first failure is returned.
 *
 * @param payload  scratch for P; on success frame->data points into it.
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_RPC_TOO_LONG if @p len > 512
 *   - KILN_ERR_RPC_BAD_VERSION if the line does not start with 0x01 'K' '1'
 *   - KILN_ERR_RPC_BAD_ENCODING if ':' is missing or the rest is not canonical base64
 *   - KILN_ERR_RPC_BAD_LENGTH if P is under 12 bytes or carries over 256 data bytes
 *   - KILN_ERR_RPC_BAD_CHECKSUM if the CRC32 does not match
 *   - KILN_ERR_RPC_BAD_KIND if kind is neither request nor response
 *   - KILN_ERR_RPC_BAD_FLAGS if a reserved flag bit is set
 */
kiln_err_t kiln_rpc_frame_decode(const uint8_t *line, size_t len, uint8_t payload[KILN_RPC_PAYLOAD_MAX],
                                 kiln_rpc_frame_t *frame);

/**
 * @brief Encodes one frame as a complete line, '\n' included (no NUL).
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_RPC_BAD_LENGTH if frame->data_len > 256
 *   - KILN_ERR_RPC_BAD_KIND / KILN_ERR_RPC_BAD_FLAGS for a frame a receiver would refuse
 *   - KILN_ERR_NO_MEM if @p line_size is too small (KILN_RPC_LINE_MAX always fits)
 */
kiln_err_t kiln_rpc_frame_encode(const kiln_rpc_frame_t *frame, uint8_t *line, size_t line_size, size_t *line_len);

/** @return how many frames a value of @p value_len bytes takes (at least 1). */
size_t kiln_rpc_chunk_count(size_t value_len);

/**
 * @brief Fills @p chunk with frame @p index of a message whose whole value is
 *        message->data / data_len (MORE set on all but the last).
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL or @p index >= kiln_rpc_chunk_count()
 *   - KILN_ERR_RPC_TOO_LARGE if the value is over 8192 bytes
 */
kiln_err_t kiln_rpc_message_chunk(const kiln_rpc_frame_t *message, size_t index, kiln_rpc_frame_t *chunk);

/**
 * @brief The response status a device answers a failed frame or message with (SPEC.md §2.3).
 *
 * @return KILN_RPC_STATUS_BAD_FRAME for a decoding error (RPC_TOO_LONG … RPC_BAD_FLAGS),
 *         KILN_RPC_STATUS_BAD_CHUNK, KILN_RPC_STATUS_TOO_LARGE for reassembly errors,
 *         KILN_RPC_STATUS_OK for KILN_OK, KILN_RPC_STATUS_INTERNAL for anything else.
 */
kiln_rpc_status_t kiln_rpc_status_for_error(kiln_err_t err);

/**
 * Reassembly state. Fields are private; the struct is public only so it can be
 * allocated statically. One chunked message is in flight at a time (a serial link
 * has one peer); single-frame messages pass through without disturbing it.
 */
typedef struct {
    uint8_t *buf;
    size_t cap;
    size_t len;
    uint32_t next_chunk;
    uint16_t id;
    uint8_t kind;
    uint8_t method;
    bool active;
} kiln_rpc_assembler_t;

/** @brief Starts empty, reassembling into @p buf (values up to min(cap, 8192) bytes). */
void kiln_rpc_assembler_init(kiln_rpc_assembler_t *assembler, uint8_t *buf, size_t cap);

/** @brief Drops any half-received message. */
void kiln_rpc_assembler_reset(kiln_rpc_assembler_t *assembler);

/**
 * @brief Feeds one decoded frame.
 *
 * When @p frame completes a message, *complete is true and @p message holds it:
 * kind, method, id and status of the last frame, flags 0, chunk 0, and data in the
 * assembler's buffer (or, for a one-frame message, the frame's own data). Valid
 * until the next push.
 *
 * @return
 *   - KILN_OK (check *complete)
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_RPC_BAD_CHUNK if a chunk other than 0 does not continue the message in
 *     flight with the same kind, id and method (that message is dropped)
 *   - KILN_ERR_RPC_TOO_LARGE if the value grows past the limit (the message is dropped)
 */
kiln_err_t kiln_rpc_assembler_push(kiln_rpc_assembler_t *assembler, const kiln_rpc_frame_t *frame,
                                   kiln_rpc_frame_t *message, bool *complete);

#ifdef __cplusplus
}
#endif
