/* The bounded JSON writer (see kiln_json_out.h). */
#include "kiln_json_out.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"

void kiln_jout_init(kiln_jout_t *w, char *buf, size_t size)
{
    w->buf = buf;
    w->size = size;
    w->len = 0;
    w->ok = buf != NULL && size > 0;
    if (w->ok) {
        buf[0] = '\0';
    }
}

static void put(kiln_jout_t *w, const char *s, size_t n)
{
    if (!w->ok) {
        return;
    }
    if (n >= w->size - w->len) { /* room for the NUL too */
        w->ok = false;
        return;
    }
    memcpy(w->buf + w->len, s, n);
    w->len += n;
    w->buf[w->len] = '\0';
}

void kiln_jout_raw(kiln_jout_t *w, const char *text) { put(w, text, strlen(text)); }

void kiln_jout_sep(kiln_jout_t *w)
{
    char last = w->len > 0 ? w->buf[w->len - 1] : '[';
    if (last != '{' && last != '[' && last != ':') {
        put(w, ",", 1);
    }
}

void kiln_jout_key(kiln_jout_t *w, const char *key)
{
    kiln_jout_sep(w);
    kiln_jout_str(w, key);
    put(w, ":", 1);
}

void kiln_jout_strn(kiln_jout_t *w, const char *s, size_t n)
{
    put(w, "\"", 1);
    size_t run = 0; /* bytes that need no escape, written in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[7];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20u) {
                snprintf(u, sizeof(u), "\\u%04x", c);
                esc = u;
            }
            break;
        }
        if (esc == NULL) {
            run++;
            continue;
        }
        put(w, s + i - run, run);
        run = 0;
        put(w, esc, strlen(esc));
    }
    put(w, s + n - run, run);
    put(w, "\"", 1);
}

void kiln_jout_str(kiln_jout_t *w, const char *s) { kiln_jout_strn(w, s, strlen(s)); }

void kiln_jout_u64(kiln_jout_t *w, uint64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRIu64, v);
    put(w, b, (size_t)n);
}

void kiln_jout_i64(kiln_jout_t *w, int64_t v)
{
    char b[24];
    int n = snprintf(b, sizeof(b), "%" PRId64, v);
    put(w, b, (size_t)n);
}

void kiln_jout_num(kiln_jout_t *w, double v)
{
    if (!isfinite(v)) {
        put(w, "null", 4); /* as cJSON prints it; the core only sends finite numbers */
        return;
    }
    if (v == trunc(v) && fabs(v) < 9007199254740992.0) {
        kiln_jout_i64(w, (int64_t)v);
        return;
    }
    char b[32];
    int n = snprintf(b, sizeof(b), "%.15g", v);
    if (strtod(b, NULL) != v) {
        n = snprintf(b, sizeof(b), "%.17g", v);
    }
    put(w, b, (size_t)n);
}

void kiln_jout_cjson(kiln_jout_t *w, const cJSON *item)
{
    if (!w->ok) {
        return;
    }
    size_t room = w->size - w->len;
    if (item == NULL || room > (size_t)INT32_MAX ||
        !cJSON_PrintPreallocated((cJSON *)item, w->buf + w->len, (int)room, false)) {
        w->ok = false;
        w->buf[w->len] = '\0';
        return;
    }
    w->len += strlen(w->buf + w->len);
}

kiln_err_t kiln_jout_finish(const kiln_jout_t *w, size_t *len)
{
    if (!w->ok) {
        return KILN_ERR_NO_MEM;
    }
    *len = w->len;
    return KILN_OK;
}
