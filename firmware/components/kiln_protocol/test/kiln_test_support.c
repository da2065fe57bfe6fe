/* Host test helpers (see kiln_test_support.h). */
#include "kiln_test_support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef KILN_VECTORS_DIR
#error "KILN_VECTORS_DIR must point at protocol/vectors (set by firmware/host/CMakeLists.txt)"
#endif

cJSON *kt_load_vectors(const char *file)
{
    char path[1024];
    snprintf(path, sizeof(path), "%s/%s", KILN_VECTORS_DIR, file);
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        fail_msg("vector file %s is missing: every C test must read its vectors", path);
    }
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)size + 1);
    assert_non_null(text);
    size_t got = fread(text, 1, (size_t)size, f);
    fclose(f);
    text[got] = '\0';
    cJSON *root = cJSON_Parse(text);
    free(text);
    if (root == NULL) {
        fail_msg("vector file %s is not JSON cJSON can read", path);
    }
    return root;
}

const cJSON *kt_member(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    if (v == NULL) {
        const cJSON *case_name = cJSON_GetObjectItemCaseSensitive(obj, "name");
        fail_msg("vector %s has no \"%s\"", cJSON_IsString(case_name) ? case_name->valuestring : "?", name);
    }
    return v;
}

const char *kt_string(const cJSON *obj, const char *name)
{
    const cJSON *v = kt_member(obj, name);
    if (!cJSON_IsString(v)) fail_msg("vector member \"%s\" is not a string", name);
    return v->valuestring;
}

double kt_number(const cJSON *obj, const char *name)
{
    const cJSON *v = kt_member(obj, name);
    if (!cJSON_IsNumber(v)) fail_msg("vector member \"%s\" is not a number", name);
    return v->valuedouble;
}

const cJSON *kt_array(const cJSON *obj, const char *name)
{
    const cJSON *v = kt_member(obj, name);
    if (!cJSON_IsArray(v)) fail_msg("vector member \"%s\" is not an array", name);
    return v;
}

static int nibble(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

uint8_t *kt_hex(const char *hex, size_t *len)
{
    size_t n = strlen(hex);
    if (n % 2 != 0) fail_msg("odd-length hex in a vector: %s", hex);
    uint8_t *out = malloc(n / 2 + 1); /* +1: never malloc(0) */
    assert_non_null(out);
    for (size_t i = 0; i < n / 2; i++) {
        int hi = nibble(hex[2 * i]);
        int lo = nibble(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) fail_msg("bad hex in a vector: %s", hex);
        out[i] = (uint8_t)(hi * 16 + lo);
    }
    *len = n / 2;
    return out;
}

/* Bytes of a valid UTF-8 sequence starting at p (WHATWG decoder rules), else the
 * length of the maximal invalid subsequence to replace with one U+FFFD, negated. */
static long utf8_step(const uint8_t *p, size_t left)
{
    uint8_t c = p[0];
    size_t need;
    uint8_t lo = 0x80, hi = 0xBF;
    if (c < 0x80) return 1;
    if (c >= 0xC2 && c <= 0xDF) need = 1;
    else if (c == 0xE0) { need = 2; lo = 0xA0; }
    else if (c >= 0xE1 && c <= 0xEC) need = 2;
    else if (c == 0xED) { need = 2; hi = 0x9F; }
    else if (c >= 0xEE && c <= 0xEF) need = 2;
    else if (c == 0xF0) { need = 3; lo = 0x90; }
    else if (c >= 0xF1 && c <= 0xF3) need = 3;
    else if (c == 0xF4) { need = 3; hi = 0x8F; }
    else return -1;
    size_t i = 1;
    for (; i <= need; i++) {
        if (i >= left) return -(long)i;
        uint8_t b = p[i];
        uint8_t l = i == 1 ? lo : 0x80;
        uint8_t h = i == 1 ? hi : 0xBF;
        if (b < l || b > h) return -(long)i;
    }
    return (long)i;
}

char *kt_utf8_lossy(const uint8_t *bytes, size_t len)
{
    char *out = malloc(len * 3 + 1); /* each byte becomes at most one 3-byte U+FFFD */
    assert_non_null(out);
    size_t o = 0;
    for (size_t i = 0; i < len;) {
        long step = utf8_step(bytes + i, len - i);
        if (step > 0) {
            memcpy(out + o, bytes + i, (size_t)step);
            o += (size_t)step;
            i += (size_t)step;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i += (size_t)(-step);
        }
    }
    out[o] = '\0';
    return out;
}

uint32_t kt_random(uint32_t *state)
{
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}
