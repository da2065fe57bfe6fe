/*
 * The string formats of SPEC.md §1.4, checked byte by byte (lengths in UTF-8 bytes).
 * Used by message validation, the JWT claim checks and, later, the RPC setters.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum {
    KILN_FORMAT_NONE = 0,    /*!< any string */
    KILN_FORMAT_DEVICE_ID,   /*!< a-z 0-9 - _, first byte a letter or digit */
    KILN_FORMAT_HEX,         /*!< lowercase 0-9 a-f */
    KILN_FORMAT_MAC,         /*!< exactly xx:xx:xx:xx:xx:xx, lowercase hex */
    KILN_FORMAT_METRIC_NAME, /*!< a-z 0-9 _ ., first byte a letter */
    KILN_FORMAT_TOKEN,       /*!< A-Z a-z 0-9 - _ */
    KILN_FORMAT_TEXT,        /*!< no control characters (U+0000..U+001F, U+007F) */
} kiln_string_format_t;

/** Device id byte length bounds (SPEC.md §1.4). */
#define KILN_DEVICE_ID_MIN 3
#define KILN_DEVICE_ID_MAX 64

/**
 * @brief Whether @p len bytes at @p s have the character rules of @p format.
 *
 * Length bounds are the caller's (the schema's), except for MAC, whose shape
 * fixes its length at 17. The empty string has every format but MAC.
 *
 * @return true if the bytes match.
 */
bool kiln_format_matches(kiln_string_format_t format, const char *s, size_t len);

/** @return true if @p s is a device id: 3..64 bytes of KILN_FORMAT_DEVICE_ID. */
bool kiln_is_device_id(const char *s, size_t len);

/** @return true if @p s is a token of @p min..@p max bytes. */
bool kiln_is_token(const char *s, size_t len, size_t min, size_t max);

#ifdef __cplusplus
}
#endif
