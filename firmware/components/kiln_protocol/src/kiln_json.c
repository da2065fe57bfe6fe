/* Strict JSON front end for cJSON (see kiln_json.h). The scan is iterative with
 * a fixed container stack, so hostile input cannot exhaust the task stack. */
#include "kiln_json.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define NUMBER_MAX 63 /* cJSON copies a number into a 64-byte buffer */

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t i;
    char *fix;      /* when set, a same-length copy to rewrite unrepresentable escapes in */
    bool needs_fix; /* an escape cJSON cannot represent was seen */
} scan_t;

static bool at(const scan_t *s, uint8_t c) { return s->i < s->len && s->p[s->i] == c; }

static void skip_ws(scan_t *s)
{
    while (s->i < s->len) {
        uint8_t c = s->p[s->i];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
            return;
        }
        s->i++;
    }
}

static int hex_value(uint8_t c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* The code unit of the "\uXXXX" escape at at_i (its backslash), or -1 if there is none. */
static long unicode_escape(const scan_t *s, size_t at_i)
{
    if (at_i + 6 > s->len || s->p[at_i] != '\\' || s->p[at_i + 1] != 'u') {
        return -1;
    }
    long v = 0;
    for (size_t k = 2; k < 6; k++) {
        int h = hex_value(s->p[at_i + k]);
        if (h < 0) return -1;
        v = v * 16 + h;
    }
    return v;
}

static void rewrite_escape(scan_t *s, size_t at_i, const char hex4[4])
{
    s->needs_fix = true;
    if (s->fix != NULL) {
        memcpy(s->fix + at_i + 2, hex4, 4);
    }
}

/* Length of the UTF-8 sequence at s->i (lead byte >= 0x80), 0 if invalid (RFC 3629). */
static size_t utf8_sequence(const scan_t *s)
{
    const uint8_t *p = s->p + s->i;
    size_t left = s->len - s->i;
    uint8_t c = p[0];
    size_t n;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) n = 2;
    else if (c == 0xE0) { n = 3; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) n = 3;
    else if (c == 0xED) { n = 3; hi = 0x9F; } /* no UTF-16 surrogates */
    else if (c >= 0xEE && c <= 0xEF) n = 3;
    else if (c == 0xF0) { n = 4; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) n = 4;
    else if (c == 0xF4) { n = 4; hi = 0x8F; } /* nothing past U+10FFFF */
    else return 0;
    if (left < n || p[1] < lo || p[1] > hi) return 0;
    for (size_t k = 2; k < n; k++) {
        if (p[k] < 0x80 || p[k] > 0xBF) return 0;
    }
    return n;
}

static bool scan_string(scan_t *s)
{
    s->i++; /* opening quote */
    while (s->i < s->len) {
        uint8_t c = s->p[s->i];
        if (c == '"') {
            s->i++;
            return true;
        }
        if (c < 0x20) {
            return false; /* raw control characters are not JSON */
        }
        if (c >= 0x80) {
            size_t n = utf8_sequence(s);
            if (n == 0) return false;
            s->i += n;
            continue;
        }
        if (c != '\\') {
            s->i++;
            continue;
        }
        if (s->i + 1 >= s->len) return false;
        uint8_t e = s->p[s->i + 1];
        if (e != 'u') {
            if (strchr("\"\\/bfnrt", e) == NULL || e == '\0') return false;
            s->i += 2;
            continue;
        }
        long cp = unicode_escape(s, s->i);
        if (cp < 0) return false;
        if (cp == 0) {
            rewrite_escape(s, s->i, "0001");
        } else if (cp >= 0xD800 && cp <= 0xDBFF) {
            long low = unicode_escape(s, s->i + 6);
            if (low >= 0xDC00 && low <= 0xDFFF) {
                s->i += 6; /* a proper pair: cJSON joins it */
            } else {
                rewrite_escape(s, s->i, "FFFD");
            }
        } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            rewrite_escape(s, s->i, "FFFD");
        }
        s->i += 6;
    }
    return false;
}

static bool is_digit(const scan_t *s) { return s->i < s->len && s->p[s->i] >= '0' && s->p[s->i] <= '9'; }

static bool scan_digits(scan_t *s)
{
    if (!is_digit(s)) return false;
    while (is_digit(s)) s->i++;
    return true;
}

static bool scan_number(scan_t *s)
{
    size_t start = s->i;
    if (at(s, '-')) s->i++;
    if (at(s, '0')) {
        s->i++;
    } else if (!scan_digits(s)) {
        return false;
    }
    if (at(s, '.')) {
        s->i++;
        if (!scan_digits(s)) return false;
    }
    if (at(s, 'e') || at(s, 'E')) {
        s->i++;
        if (at(s, '+') || at(s, '-')) s->i++;
        if (!scan_digits(s)) return false;
    }
    return s->i - start <= NUMBER_MAX;
}

static bool scan_literal(scan_t *s, const char *word)
{
    size_t n = strlen(word);
    if (s->len - s->i < n || memcmp(s->p + s->i, word, n) != 0) return false;
    s->i += n;
    return true;
}

/* One scalar value, or the opening of a container (pushed on the stack). */
static bool scan_value_start(scan_t *s, uint8_t *stack, size_t *depth, bool *opened)
{
    *opened = false;
    if (s->i >= s->len) return false;
    uint8_t c = s->p[s->i];
    if (c == '{' || c == '[') {
        if (*depth == KILN_JSON_DEPTH_MAX) return false;
        stack[(*depth)++] = c;
        s->i++;
        *opened = true;
        return true;
    }
    if (c == '"') return scan_string(s);
    if (c == '-' || (c >= '0' && c <= '9')) return scan_number(s);
    if (c == 't') return scan_literal(s, "true");
    if (c == 'f') return scan_literal(s, "false");
    if (c == 'n') return scan_literal(s, "null");
    return false;
}

/* Object member start: a key string, ':' and the position of its value. */
static bool scan_key(scan_t *s)
{
    skip_ws(s);
    if (!at(s, '"') || !scan_string(s)) return false;
    skip_ws(s);
    if (!at(s, ':')) return false;
    s->i++;
    return true;
}

static bool scan_document(scan_t *s)
{
    uint8_t stack[KILN_JSON_DEPTH_MAX];
    size_t depth = 0;
    bool opened = false; /* just inside '{' or '[' (else just after a complete value) */
    skip_ws(s);
    if (!scan_value_start(s, stack, &depth, &opened)) return false;
    for (;;) {
        skip_ws(s);
        if (opened) {
            uint8_t top = stack[depth - 1];
            if (at(s, top == '{' ? '}' : ']')) {
                s->i++;
                depth--;
                opened = false;
                continue;
            }
            if (top == '{' && !scan_key(s)) return false;
            skip_ws(s);
            if (!scan_value_start(s, stack, &depth, &opened)) return false;
            continue;
        }
        if (depth == 0) {
            return s->i == s->len;
        }
        uint8_t top = stack[depth - 1];
        if (at(s, ',')) {
            s->i++;
            if (top == '{' && !scan_key(s)) return false;
            skip_ws(s);
            if (!scan_value_start(s, stack, &depth, &opened)) return false;
        } else if (at(s, top == '{' ? '}' : ']')) {
            s->i++;
            depth--;
        } else {
            return false;
        }
    }
}

kiln_err_t kiln_json_parse(const char *text, size_t len, cJSON **out)
{
    if (text == NULL || out == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    *out = NULL;
    scan_t s = {.p = (const uint8_t *)text, .len = len};
    if (!scan_document(&s)) {
        return KILN_ERR_MSG_INVALID_JSON;
    }
    char *copy = NULL; /* cJSON's allocator: the core's heap use goes through one pair of hooks */
    if (s.needs_fix) {
        copy = cJSON_malloc(len);
        if (copy == NULL) {
            return KILN_ERR_NO_MEM;
        }
        memcpy(copy, text, len);
        scan_t again = {.p = (const uint8_t *)text, .len = len, .fix = copy};
        (void)scan_document(&again);
    }
    /* The scan proved the syntax, so a NULL from cJSON now means the heap ran out. */
    cJSON *root = cJSON_ParseWithLength(copy != NULL ? copy : text, len);
    cJSON_free(copy);
    if (root == NULL) {
        return KILN_ERR_NO_MEM;
    }
    *out = root;
    return KILN_OK;
}
