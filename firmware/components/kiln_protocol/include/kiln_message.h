/*
 * kiln.v1 message validation (SPEC.md §1.3-1.5): the first failure, as a code
 * and a JSON Pointer path, in exactly the order the TypeScript validator checks.
 * The checks are driven by the generated schema table; parsing uses cJSON
 * (which allocates; everything is freed before return unless the caller asks
 * for the tree).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "kiln_err.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

#define KILN_MESSAGE_MAX_BYTES 65536u /*!< larger frames are TOO_LARGE */
#define KILN_MESSAGE_PATH_MAX  256u   /*!< path buffer, NUL included */
#define KILN_MESSAGE_MAP_MAX   64u    /*!< most entries a map field may declare */

typedef enum {
    KILN_SENDER_ANY = 0,  /*!< do not check the direction */
    KILN_SENDER_DEVICE,   /*!< the message came from a device */
    KILN_SENDER_GATEWAY,  /*!< the message came from the gateway */
} kiln_sender_t;

typedef struct {
    kiln_err_t code;                  /*!< KILN_OK or a KILN_ERR_MSG_* code (kiln_err_name() gives the contract name) */
    char path[KILN_MESSAGE_PATH_MAX]; /*!< JSON Pointer of the failure; "" is the whole message */
    bool path_truncated;              /*!< the pointer was longer than the buffer (a very long key) */
    const char *type;                 /*!< the message type once known (static string), else NULL */
} kiln_message_result_t;

/**
 * @brief Validates one text frame as a kiln.v1 message.
 *
 * @param text   the frame's bytes (UTF-8; need not be NUL-terminated).
 * @param from   who sent it, or KILN_SENDER_ANY.
 * @param result receives the outcome (code, path, type); always filled.
 * @param root   if not NULL and the message is valid, receives the parsed tree
 *               (free with cJSON_Delete()); set to NULL otherwise.
 * @return the same code as result->code:
 *   - KILN_OK
 *   - KILN_ERR_MSG_TOO_LARGE, KILN_ERR_MSG_INVALID_JSON, KILN_ERR_MSG_WRONG_TYPE,
 *     KILN_ERR_MSG_MISSING_FIELD, KILN_ERR_MSG_UNKNOWN_TYPE, KILN_ERR_MSG_UNEXPECTED_TYPE,
 *     KILN_ERR_MSG_NOT_INTEGER, KILN_ERR_MSG_OUT_OF_RANGE, KILN_ERR_MSG_TOO_SHORT,
 *     KILN_ERR_MSG_TOO_LONG, KILN_ERR_MSG_BAD_FORMAT, KILN_ERR_MSG_NOT_ALLOWED,
 *     KILN_ERR_MSG_UNKNOWN_FIELD: the first check that failed, at result->path
 *   - KILN_ERR_INVALID_ARG if @p text or @p result is NULL
 *   - KILN_ERR_NO_MEM if cJSON ran out of heap
 */
kiln_err_t kiln_message_validate(const char *text, size_t len, kiln_sender_t from,
                                 kiln_message_result_t *result, struct cJSON **root);

#ifdef __cplusplus
}
#endif
