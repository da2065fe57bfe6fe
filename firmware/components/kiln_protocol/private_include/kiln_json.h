/*
 * JSON parsing that accepts exactly what JavaScript's JSON.parse accepts, so the
 * C and TypeScript validators agree on INVALID_JSON. cJSON builds the tree, but it
 * is lenient (leading '+', "01", control characters, a BOM, any byte <= 0x20 as
 * whitespace), so a strict RFC 8259 scan runs first. Two JSON.parse results cJSON
 * cannot represent are mapped to strings of the same UTF-8 length and formats:
 * "\u0000" (cJSON would cut the string there) becomes U+0001, and an unpaired
 * surrogate escape becomes U+FFFD (what Buffer.byteLength counts it as).
 *
 * C-side limits (documented in firmware/README.md): nesting deeper than
 * KILN_JSON_DEPTH_MAX and numbers longer than 63 characters are INVALID_JSON
 * (the first bounds cJSON's recursion on a small task stack, the second is
 * cJSON's number buffer). Invalid UTF-8 is INVALID_JSON (a text frame must be UTF-8).
 */
#pragma once

#include <stddef.h>

#include "cJSON.h"
#include "kiln_err.h"

#define KILN_JSON_DEPTH_MAX 32

/**
 * @brief Parses @p len bytes (need not be NUL-terminated) into a cJSON tree.
 *
 * @param out receives the tree; the caller frees it with cJSON_Delete().
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_MSG_INVALID_JSON if JSON.parse would refuse the text (or a C limit above)
 *   - KILN_ERR_NO_MEM if the heap ran out
 */
kiln_err_t kiln_json_parse(const char *text, size_t len, cJSON **out);
