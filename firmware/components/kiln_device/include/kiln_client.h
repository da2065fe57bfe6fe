/*
 * The kiln.v1 client codec (SPEC.md §1.3): writes the messages a device sends as
 * compact JSON straight into the caller's buffer (a bounded writer: no heap, no
 * cJSON tree; a message that does not fit is KILN_ERR_NO_MEM) and reads what the
 * gateway sends, after kiln_message_validate() has checked it against the contract
 * (from = gateway; parsing is the one place cJSON allocates).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_err.h"
#include "kiln_message.h"
#include "kiln_telemetry.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

typedef struct {
    const char *device_id;
    const char *boot_id;     /*!< lowercase hex, 8..32 */
    const char *fw_name;     /*!< 1..31 bytes */
    const char *fw_version;  /*!< 1..31 bytes */
    const char *chip;
    const char *mac;         /*!< xx:xx:xx:xx:xx:xx */
} kiln_hello_t;

/**
 * @brief `hello`.
 * @return KILN_OK; KILN_ERR_INVALID_ARG (NULL); KILN_ERR_NO_MEM (buffer too small)
 */
kiln_err_t kiln_client_encode_hello(uint32_t seq, const kiln_hello_t *hello, char *out, size_t size, size_t *len);

/**
 * @brief `telemetry` for one sample, or `telemetry_batch` for @p n > 1 (at most 64), each
 *        sample with its own seq; ts = @p wall_offset_ms + the sample's uptime.
 * @param seq the message seq of a batch (a single sample is sent under its own seq).
 * @return KILN_OK; KILN_ERR_INVALID_ARG (NULL, n = 0 or > 64); KILN_ERR_NO_MEM (buffer too small: send fewer)
 */
kiln_err_t kiln_client_encode_samples(uint32_t seq, const kiln_telemetry_t *t, kiln_sample_t *const *samples,
                                      size_t n, int64_t wall_offset_ms, char *out, size_t size, size_t *len);

/** @brief `heartbeat` with uptimeMs. @return as kiln_client_encode_hello() */
kiln_err_t kiln_client_encode_heartbeat(uint32_t seq, uint64_t uptime_ms, char *out, size_t size, size_t *len);

/**
 * @brief `command_result`.
 * @param status "ok", "error", "unsupported" or "expired"
 * @param result an object to send as `result` (NULL: none); not consumed
 * @param error text for `error` (NULL: none; cut to 128 bytes)
 * @return as kiln_client_encode_hello()
 */
kiln_err_t kiln_client_encode_command_result(uint32_t seq, const char *id, const char *status,
                                             const struct cJSON *result, const char *error, char *out, size_t size,
                                             size_t *len);

/**
 * @brief `error` (code one of BAD_MESSAGE RATE_LIMITED TOO_LARGE UNSUPPORTED INTERNAL; message
 *        0..200 bytes of text, the caller's to keep short; ref the seq it is about, if any).
 * @return as kiln_client_encode_hello()
 */
kiln_err_t kiln_client_encode_error(uint32_t seq, const char *code, const char *message, bool has_ref, uint32_t ref,
                                    char *out, size_t size, size_t *len);

typedef enum {
    KILN_IN_WELCOME,
    KILN_IN_ACK,
    KILN_IN_COMMAND,
    KILN_IN_HEARTBEAT,
    KILN_IN_CONFIG,
    KILN_IN_ERROR,
} kiln_incoming_kind_t;

/** A validated gateway message; pointers go into the tree kiln_client_parse() returned. */
typedef struct {
    kiln_incoming_kind_t kind;
    uint32_t seq;
    union {
        struct {
            int64_t server_time_ms;
            uint32_t heartbeat_sec, telemetry_sec, max_batch;
        } welcome;
        struct {
            const struct cJSON *acked; /*!< array of 1..256 u32 */
        } ack;
        struct {
            const char *id;
            const char *name;
            const struct cJSON *args;  /*!< object or NULL */
            bool has_expires;
            int64_t expires_at_ms;
        } command;
        struct {
            bool has_telemetry, has_heartbeat;
            uint32_t telemetry_sec, heartbeat_sec;
        } config;
        struct {
            const char *code;
            const char *message;
        } error;
    } u;
} kiln_incoming_t;

/**
 * @brief Validates a text frame from the gateway and reads it.
 * @param root receives the tree on success (free it with cJSON_Delete() when done with @p in).
 * @param result receives the validation outcome (code and path, for the log).
 * @return KILN_OK; the validation error (KILN_ERR_MSG_*, including UNEXPECTED_TYPE for a
 *         device-only message); KILN_ERR_INVALID_ARG; KILN_ERR_NO_MEM
 */
kiln_err_t kiln_client_parse(const char *text, size_t len, kiln_incoming_t *in, struct cJSON **root,
                             kiln_message_result_t *result);

#ifdef __cplusplus
}
#endif
