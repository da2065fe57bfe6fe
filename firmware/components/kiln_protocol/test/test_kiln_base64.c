/* kiln_base64: RFC 4648 §10 test vectors, canonical-only decoding, round trips. */
#include <string.h>

#include "kiln_base64.h"
#include "kiln_test_support.h"

typedef struct {
    const char *bytes;
    const char *std;
    const char *url;
} rfc_case_t;

/* RFC 4648 §10 ("f", "fo", …), standard padded and base64url unpadded. */
static const rfc_case_t RFC_CASES[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

static void test_rfc4648_vectors(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(RFC_CASES) / sizeof(RFC_CASES[0]); i++) {
        const rfc_case_t *c = &RFC_CASES[i];
        size_t n = strlen(c->bytes);
        char text[16];
        uint8_t bytes[16];
        size_t len = 0;
        assert_int_equal(kiln_base64_encode((const uint8_t *)c->bytes, n, text, sizeof(text), &len), KILN_OK);
        assert_int_equal(len, strlen(c->std));
        assert_memory_equal(text, c->std, len);
        assert_int_equal(kiln_base64url_encode((const uint8_t *)c->bytes, n, text, sizeof(text), &len), KILN_OK);
        assert_int_equal(len, strlen(c->url));
        assert_memory_equal(text, c->url, len);
        assert_int_equal(kiln_base64_decode(c->std, strlen(c->std), bytes, sizeof(bytes), &len), KILN_OK);
        assert_int_equal(len, n);
        assert_memory_equal(bytes, c->bytes, n);
        assert_int_equal(kiln_base64url_decode(c->url, strlen(c->url), bytes, sizeof(bytes), &len), KILN_OK);
        assert_int_equal(len, n);
        assert_memory_equal(bytes, c->bytes, n);
    }
}

/* Every text that would decode to the same bytes as another is refused. */
static void test_non_canonical_text_is_refused(void **state)
{
    (void)state;
    static const char *const BAD_STD[] = {
        "Zh==",      /* stray low bits */
        "Zm9=",      /* stray low bits */
        "Zg",        /* padding missing */
        "Zg=",       /* padding short */
        "Zg===",     /* padding long */
        "Z===",      /* one significant character */
        "====",      /* padding only */
        "Zm=v",      /* padding inside */
        "Zm9v\n",    /* whitespace */
        "Zm9-",      /* url alphabet */
        "Zm9_",      /* url alphabet */
        "Zg==Zg==",  /* padding then more */
    };
    static const char *const BAD_URL[] = {
        "Zh", "Zm9", "Zg==", "Z", "Zm9+", "Zm9/", "Zm 9v",
    };
    uint8_t out[16];
    size_t len = 0;
    for (size_t i = 0; i < sizeof(BAD_STD) / sizeof(BAD_STD[0]); i++) {
        if (kiln_base64_decode(BAD_STD[i], strlen(BAD_STD[i]), out, sizeof(out), &len) != KILN_ERR_BAD_ENCODING) {
            fail_msg("standard base64 \"%s\" was accepted", BAD_STD[i]);
        }
    }
    for (size_t i = 0; i < sizeof(BAD_URL) / sizeof(BAD_URL[0]); i++) {
        if (kiln_base64url_decode(BAD_URL[i], strlen(BAD_URL[i]), out, sizeof(out), &len) != KILN_ERR_BAD_ENCODING) {
            fail_msg("base64url \"%s\" was accepted", BAD_URL[i]);
        }
    }
}

/* A buffer too small is NO_MEM, never a partial write past its end; bad text stays BAD_ENCODING. */
static void test_small_buffers(void **state)
{
    (void)state;
    uint8_t out[2];
    char text[7];
    size_t len = 0;
    assert_int_equal(kiln_base64_decode("Zm9v", 4, out, sizeof(out), &len), KILN_ERR_NO_MEM);
    assert_int_equal(kiln_base64_decode("Zm9*", 4, out, sizeof(out), &len), KILN_ERR_BAD_ENCODING);
    assert_int_equal(kiln_base64_encode((const uint8_t *)"foob", 4, text, sizeof(text), &len), KILN_ERR_NO_MEM);
    assert_int_equal(kiln_base64url_encode((const uint8_t *)"foob", 4, text, sizeof(text), &len), KILN_OK);
    assert_int_equal(len, 6);
}

/* Any byte string survives encode + decode in both alphabets, for every length up to 300. */
static void test_round_trip_every_length(void **state)
{
    (void)state;
    uint32_t seed = 0x6b696c6eu;
    uint8_t bytes[300];
    uint8_t back[300];
    char text[KILN_BASE64_ENCODED_LEN(300)];
    for (size_t n = 0; n <= sizeof(bytes); n++) {
        for (size_t i = 0; i < n; i++) bytes[i] = (uint8_t)kt_random(&seed);
        size_t len = 0;
        size_t got = 0;
        assert_int_equal(kiln_base64_encode(bytes, n, text, sizeof(text), &len), KILN_OK);
        assert_int_equal(len, KILN_BASE64_ENCODED_LEN(n));
        assert_int_equal(kiln_base64_decode(text, len, back, sizeof(back), &got), KILN_OK);
        assert_int_equal(got, n);
        assert_memory_equal(back, bytes, n);
        assert_int_equal(kiln_base64url_encode(bytes, n, text, sizeof(text), &len), KILN_OK);
        assert_int_equal(len, KILN_BASE64URL_ENCODED_LEN(n));
        assert_int_equal(kiln_base64url_decode(text, len, back, sizeof(back), &got), KILN_OK);
        assert_int_equal(got, n);
        assert_memory_equal(back, bytes, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rfc4648_vectors),
        cmocka_unit_test(test_non_canonical_text_is_refused),
        cmocka_unit_test(test_small_buffers),
        cmocka_unit_test(test_round_trip_every_length),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
