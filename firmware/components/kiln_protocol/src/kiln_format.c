/* SPEC.md §1.4 string formats, byte by byte, exactly as protocol/src/messages/formats.ts. */
#include "kiln_format.h"

#include <stdint.h>

static bool is_lower(uint8_t c) { return c >= 'a' && c <= 'z'; }
static bool is_upper(uint8_t c) { return c >= 'A' && c <= 'Z'; }
static bool is_digit(uint8_t c) { return c >= '0' && c <= '9'; }
static bool is_hex_lower(uint8_t c) { return is_digit(c) || (c >= 'a' && c <= 'f'); }

static bool byte_ok(kiln_string_format_t format, uint8_t c, size_t i)
{
    switch (format) {
    case KILN_FORMAT_NONE:
        return true;
    case KILN_FORMAT_DEVICE_ID:
        return is_lower(c) || is_digit(c) || (i > 0 && (c == '-' || c == '_'));
    case KILN_FORMAT_HEX:
        return is_hex_lower(c);
    case KILN_FORMAT_MAC:
        return i % 3 == 2 ? c == ':' : is_hex_lower(c);
    case KILN_FORMAT_METRIC_NAME:
        return is_lower(c) || (i > 0 && (is_digit(c) || c == '_' || c == '.'));
    case KILN_FORMAT_TOKEN:
        return is_lower(c) || is_upper(c) || is_digit(c) || c == '-' || c == '_';
    case KILN_FORMAT_TEXT:
        return c >= 0x20 && c != 0x7F;
    }
    return false;
}

bool kiln_format_matches(kiln_string_format_t format, const char *s, size_t len)
{
    if (s == NULL && len != 0) {
        return false;
    }
    if (format == KILN_FORMAT_MAC && len != 17) {
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        if (!byte_ok(format, (uint8_t)s[i], i)) {
            return false;
        }
    }
    return true;
}

bool kiln_is_device_id(const char *s, size_t len)
{
    return len >= KILN_DEVICE_ID_MIN && len <= KILN_DEVICE_ID_MAX &&
           kiln_format_matches(KILN_FORMAT_DEVICE_ID, s, len);
}

bool kiln_is_token(const char *s, size_t len, size_t min, size_t max)
{
    return len >= min && len <= max && kiln_format_matches(KILN_FORMAT_TOKEN, s, len);
}
