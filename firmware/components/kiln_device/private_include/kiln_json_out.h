/*
 * A bounded JSON writer: appends compact JSON text to a caller's buffer, never
 * allocates, and always leaves the text NUL-terminated. The first write that does
 * not fit marks the writer failed; later writes do nothing, and kiln_jout_finish()
 * reports KILN_ERR_NO_MEM. The device builds every message it sends with it (kiln.v1
 * and RPC responses), so no cJSON tree is built for output.
 *
 *   kiln_jout_t w;
 *   kiln_jout_init(&w, buf, sizeof(buf));
 *   kiln_jout_raw(&w, "{");
 *   kiln_jout_key(&w, "seq"); kiln_jout_u64(&w, 7);     // a comma goes in as needed
 *   kiln_jout_raw(&w, "}");
 *   err = kiln_jout_finish(&w, &len);
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_err.h"

struct cJSON;

typedef struct {
    char *buf;
    size_t size;
    size_t len; /*!< bytes written, NUL not counted */
    bool ok;    /*!< false once a write did not fit */
} kiln_jout_t;

void kiln_jout_init(kiln_jout_t *w, char *buf, size_t size);
/** @brief Text as is (structure: "{", "}", "[", "]", or a literal the caller knows is JSON). */
void kiln_jout_raw(kiln_jout_t *w, const char *text);
/** @brief A comma unless the last byte opens a container or ends a key. */
void kiln_jout_sep(kiln_jout_t *w);
/** @brief kiln_jout_sep(), then "key": (the key is escaped). */
void kiln_jout_key(kiln_jout_t *w, const char *key);
/** @brief A JSON string of @p s (escaped as cJSON does: quote, backslash, controls). */
void kiln_jout_str(kiln_jout_t *w, const char *s);
void kiln_jout_strn(kiln_jout_t *w, const char *s, size_t n);
void kiln_jout_u64(kiln_jout_t *w, uint64_t v);
void kiln_jout_i64(kiln_jout_t *w, int64_t v);
/** @brief A number: integers below 2^53 exactly, others the shortest of %.15g / %.17g that reads back; null if not finite. */
void kiln_jout_num(kiln_jout_t *w, double v);
/** @brief A cJSON value, printed compactly in place (cJSON_PrintPreallocated: no heap). */
void kiln_jout_cjson(kiln_jout_t *w, const struct cJSON *item);
/** @return KILN_OK with @p len set, or KILN_ERR_NO_MEM if something did not fit. */
kiln_err_t kiln_jout_finish(const kiln_jout_t *w, size_t *len);
