/* Canonical base64 / base64url, both directions, one shared core (see kiln_base64.h). */
#include "kiln_base64.h"

#include <stdbool.h>

static const char STD_ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char URL_ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* 0..63, or -1: a search instead of a 256-byte table keeps flash use tiny. */
static int sextet(char c, bool url)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == (url ? '-' : '+')) return 62;
    if (c == (url ? '_' : '/')) return 63;
    return -1;
}

static kiln_err_t encode(const uint8_t *in, size_t n, char *out, size_t out_size, size_t *out_len, bool url)
{
    if ((in == NULL && n != 0) || out == NULL || out_len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    const char *alphabet = url ? URL_ALPHABET : STD_ALPHABET;
    size_t need = url ? KILN_BASE64URL_ENCODED_LEN(n) : KILN_BASE64_ENCODED_LEN(n);
    if (n > (SIZE_MAX / 4u) * 3u - 3u || out_size < need) {
        return KILN_ERR_NO_MEM;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t v = (uint32_t)in[i] << 16;
        if (left > 1) v |= (uint32_t)in[i + 1] << 8;
        if (left > 2) v |= in[i + 2];
        out[o++] = alphabet[(v >> 18) & 0x3Fu];
        out[o++] = alphabet[(v >> 12) & 0x3Fu];
        if (left > 1) {
            out[o++] = alphabet[(v >> 6) & 0x3Fu];
        } else if (!url) {
            out[o++] = '=';
        }
        if (left > 2) {
            out[o++] = alphabet[v & 0x3Fu];
        } else if (!url) {
            out[o++] = '=';
        }
    }
    *out_len = o;
    return KILN_OK;
}

static kiln_err_t decode(const char *in, size_t n, uint8_t *out, size_t out_size, size_t *out_len, bool url)
{
    if ((in == NULL && n != 0) || out_len == NULL || (out == NULL && out_size != 0)) {
        return KILN_ERR_INVALID_ARG;
    }
    size_t chars = n; /* significant characters, padding excluded */
    if (url) {
        if (n % 4u == 1u) return KILN_ERR_BAD_ENCODING;
    } else {
        if (n % 4u != 0u) return KILN_ERR_BAD_ENCODING;
        if (n > 0 && in[n - 1] == '=') {
            chars--;
            if (in[n - 2] == '=') chars--; /* n >= 4 here */
        }
    }
    size_t tail = chars % 4u; /* 0, 2 or 3 significant characters in the last group */
    for (size_t i = 0; i < chars; i++) {
        if (sextet(in[i], url) < 0) return KILN_ERR_BAD_ENCODING;
    }
    /* Unused low bits of the last character must be zero, or two texts would
     * decode to the same bytes. Checked before the size, so a small buffer is
     * never mistaken for (or hides) bad input. */
    if (tail != 0u) {
        int last = sextet(in[chars - 1], url);
        if ((tail == 2u && (last & 0x0F) != 0) || (tail == 3u && (last & 0x03) != 0)) {
            return KILN_ERR_BAD_ENCODING;
        }
    }
    size_t bytes = (chars / 4u) * 3u + (tail == 0u ? 0u : tail - 1u);
    if (bytes > out_size) {
        return KILN_ERR_NO_MEM;
    }
    uint32_t acc = 0;
    unsigned bits = 0;
    size_t o = 0;
    for (size_t i = 0; i < chars; i++) {
        acc = ((acc << 6) | (uint32_t)sextet(in[i], url)) & 0xFFFFu;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (uint8_t)(acc >> bits);
        }
    }
    *out_len = o;
    return KILN_OK;
}

kiln_err_t kiln_base64_encode(const uint8_t *in, size_t n, char *out, size_t out_size, size_t *out_len)
{
    return encode(in, n, out, out_size, out_len, false);
}

kiln_err_t kiln_base64_decode(const char *in, size_t n, uint8_t *out, size_t out_size, size_t *out_len)
{
    return decode(in, n, out, out_size, out_len, false);
}

kiln_err_t kiln_base64url_encode(const uint8_t *in, size_t n, char *out, size_t out_size, size_t *out_len)
{
    return encode(in, n, out, out_size, out_len, true);
}

kiln_err_t kiln_base64url_decode(const char *in, size_t n, uint8_t *out, size_t out_size, size_t *out_len)
{
    return decode(in, n, out, out_size, out_len, true);
}
