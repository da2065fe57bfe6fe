/*
 * Improv Wi-Fi Serial, version 1 (SPEC.md §2.2, formats.md §1):
 * "IMPROV" | version 0x01 | type | length N | N data bytes | checksum (sum mod 256).
 * Decoded frames, commands and strings point into the caller's bytes: nothing is
 * copied and nothing is allocated. Strings are not NUL-terminated.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kiln_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_IMPROV_VERSION      0x01
#define KILN_IMPROV_HEADER_LEN   9u   /*!< "IMPROV", version, type, length */
#define KILN_IMPROV_DATA_MAX     255u
#define KILN_IMPROV_FRAME_MAX    (KILN_IMPROV_HEADER_LEN + KILN_IMPROV_DATA_MAX + 1u)

typedef enum {
    KILN_IMPROV_TYPE_CURRENT_STATE = 0x01, /*!< device -> client, 1 byte of kiln_improv_state_t */
    KILN_IMPROV_TYPE_ERROR_STATE = 0x02,   /*!< device -> client, 1 byte of kiln_improv_error_t */
    KILN_IMPROV_TYPE_RPC_COMMAND = 0x03,   /*!< client -> device */
    KILN_IMPROV_TYPE_RPC_RESULT = 0x04,    /*!< device -> client */
} kiln_improv_type_t;

typedef enum {
    KILN_IMPROV_STATE_STOPPED = 0x00,
    KILN_IMPROV_STATE_AWAITING_AUTHORIZATION = 0x01,
    KILN_IMPROV_STATE_AUTHORIZED = 0x02,
    KILN_IMPROV_STATE_PROVISIONING = 0x03,
    KILN_IMPROV_STATE_PROVISIONED = 0x04,
} kiln_improv_state_t;

typedef enum {
    KILN_IMPROV_ERROR_NONE = 0x00,
    KILN_IMPROV_ERROR_INVALID_RPC = 0x01,
    KILN_IMPROV_ERROR_UNKNOWN_RPC = 0x02,
    KILN_IMPROV_ERROR_UNABLE_TO_CONNECT = 0x03,
    KILN_IMPROV_ERROR_NOT_AUTHORIZED = 0x04,
    KILN_IMPROV_ERROR_BAD_HOSTNAME = 0x05,
    KILN_IMPROV_ERROR_UNKNOWN = 0xFF,
} kiln_improv_error_t;

typedef enum {
    KILN_IMPROV_CMD_WIFI_SETTINGS = 0x01,
    KILN_IMPROV_CMD_GET_CURRENT_STATE = 0x02,
    KILN_IMPROV_CMD_GET_DEVICE_INFO = 0x03,
    KILN_IMPROV_CMD_GET_WIFI_NETWORKS = 0x04,
    KILN_IMPROV_CMD_HOSTNAME = 0x05,
    KILN_IMPROV_CMD_DEVICE_NAME = 0x06,
    KILN_IMPROV_CMD_NETWORK_STATE = 0x07,
} kiln_improv_command_t;

/** A length-delimited byte string inside someone else's buffer (UTF-8, no NUL). */
typedef struct {
    const uint8_t *bytes;
    size_t len;
} kiln_improv_string_t;

typedef struct {
    uint8_t type;          /*!< a kiln_improv_type_t, or any other value the peer sent */
    const uint8_t *data;   /*!< into the decoded buffer */
    size_t data_len;       /*!< 0..255 */
} kiln_improv_frame_t;

typedef struct {
    uint8_t command;       /*!< a kiln_improv_command_t, or any other value */
    const uint8_t *payload;
    size_t payload_len;    /*!< from the length byte; bytes after it are ignored */
} kiln_improv_rpc_command_t;

/**
 * @brief Decodes exactly one frame: the whole of @p buf (a trailing '\n' must be removed).
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_IMPROV_TRUNCATED if @p buf is shorter than 10 bytes, lacks "IMPROV",
 *     or is shorter than its length byte says
 *   - KILN_ERR_IMPROV_BAD_VERSION if the version byte is not 0x01
 *   - KILN_ERR_IMPROV_BAD_LENGTH if bytes follow the frame
 *   - KILN_ERR_IMPROV_BAD_CHECKSUM if the last byte is not the sum of the others
 */
kiln_err_t kiln_improv_frame_decode(const uint8_t *buf, size_t len, kiln_improv_frame_t *frame);

/**
 * @brief Encodes one frame (no trailing '\n'; the sender adds it).
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_IMPROV_BAD_LENGTH if @p data_len > 255
 *   - KILN_ERR_NO_MEM if @p out_size < data_len + 10
 */
kiln_err_t kiln_improv_frame_encode(uint8_t type, const uint8_t *data, size_t data_len,
                                    uint8_t *out, size_t out_size, size_t *out_len);

/**
 * @brief Parses RPC Command data: [command][length][payload].
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_IMPROV_BAD_LENGTH if the data is shorter than 2 bytes or than its length byte says
 */
kiln_err_t kiln_improv_rpc_command_decode(const uint8_t *data, size_t len, kiln_improv_rpc_command_t *command);

/**
 * @brief Parses a Wi-Fi settings payload: [ssidLen][ssid][pwLen][pw], exactly two strings.
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_IMPROV_BAD_LENGTH if a string runs past the payload, or there are not exactly two
 */
kiln_err_t kiln_improv_wifi_settings_decode(const uint8_t *payload, size_t len,
                                            kiln_improv_string_t *ssid, kiln_improv_string_t *password);

/**
 * @brief Parses RPC Result data: [command][L][len1][str1]…, walking strings within L only
 *        (bytes after 2 + L are ignored: the sdk-cpp trailing-byte quirk).
 *
 * @param strings  array of @p max_strings to fill; @p count receives how many were found.
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_IMPROV_BAD_LENGTH if the data is shorter than 2 + L, or a string runs past L
 *   - KILN_ERR_NO_MEM if there are more than @p max_strings strings
 */
kiln_err_t kiln_improv_rpc_result_decode(const uint8_t *data, size_t len, uint8_t *command,
                                         kiln_improv_string_t *strings, size_t max_strings, size_t *count);

/**
 * @brief Builds RPC Result data (no trailing quirk byte): [command][L][len1][str1]….
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_IMPROV_BAD_LENGTH if a string is over 255 bytes or all of them over 253
 *   - KILN_ERR_NO_MEM if @p out_size is too small
 */
kiln_err_t kiln_improv_rpc_result_encode(uint8_t command, const kiln_improv_string_t *strings, size_t count,
                                         uint8_t *out, size_t out_size, size_t *out_len);

#ifdef __cplusplus
}
#endif
