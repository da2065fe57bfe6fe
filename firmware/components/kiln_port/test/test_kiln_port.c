/*
 * The port contract (kiln_port.h), run against whichever port the build links
 * (the host port in CI). Known answers, so a port that merely returns OK fails.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>

#include <cmocka.h>

#include "kiln_port.h"

/* FIPS 180-2 example: SHA-256("abc"). */
static const uint8_t SHA256_ABC[32] = {
    0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae, 0x22, 0x23,
    0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61, 0xf2, 0x00, 0x15, 0xad,
};
/* SHA-256 of no bytes. */
static const uint8_t SHA256_EMPTY[32] = {
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
};

/* RFC 6979 A.2.5, P-256 with SHA-256, message "sample": public key Ux || Uy, signature r || s. */
static const uint8_t P256_KEY[64] = {
    0x60, 0xFE, 0xD4, 0xBA, 0x25, 0x5A, 0x9D, 0x31, 0xC9, 0x61, 0xEB, 0x74, 0xC6, 0x35, 0x6D, 0x68,
    0xC0, 0x49, 0xB8, 0x92, 0x3B, 0x61, 0xFA, 0x6C, 0xE6, 0x69, 0x62, 0x2E, 0x60, 0xF2, 0x9F, 0xB6,
    0x79, 0x03, 0xFE, 0x10, 0x08, 0xB8, 0xBC, 0x99, 0xA4, 0x1A, 0xE9, 0xE9, 0x56, 0x28, 0xBC, 0x64,
    0xF2, 0xF1, 0xB2, 0x0C, 0x2D, 0x7E, 0x9F, 0x51, 0x77, 0xA3, 0xC2, 0x94, 0xD4, 0x46, 0x22, 0x99,
};
static const uint8_t P256_SIG_SAMPLE[64] = {
    0xEF, 0xD4, 0x8B, 0x2A, 0xAC, 0xB6, 0xA8, 0xFD, 0x11, 0x40, 0xDD, 0x9C, 0xD4, 0x5E, 0x81, 0xD6,
    0x9D, 0x2C, 0x87, 0x7B, 0x56, 0xAA, 0xF9, 0x91, 0xC3, 0x4D, 0x0E, 0xA8, 0x4E, 0xAF, 0x37, 0x16,
    0xF7, 0xCB, 0x1C, 0x94, 0x2D, 0x65, 0x7C, 0x41, 0xD4, 0x36, 0xC7, 0xA1, 0xB6, 0xE2, 0x9F, 0x65,
    0xF3, 0xE9, 0x00, 0xDB, 0xB9, 0xAF, 0xF4, 0x06, 0x4D, 0xC4, 0xAB, 0x2F, 0x84, 0x3A, 0xCD, 0xA8,
};

static void test_sha256_known_answers(void **state)
{
    (void)state;
    uint8_t digest[KILN_PORT_SHA256_LEN];
    assert_int_equal(kiln_port_sha256("abc", 3, digest), KILN_PORT_OK);
    assert_memory_equal(digest, SHA256_ABC, sizeof(digest));
    assert_int_equal(kiln_port_sha256(NULL, 0, digest), KILN_PORT_OK);
    assert_memory_equal(digest, SHA256_EMPTY, sizeof(digest));
}

static void test_p256_verify_rfc6979_sample(void **state)
{
    (void)state;
    uint8_t digest[KILN_PORT_SHA256_LEN];
    assert_int_equal(kiln_port_sha256("sample", 6, digest), KILN_PORT_OK);
    assert_int_equal(kiln_port_p256_public_key_check(P256_KEY), KILN_PORT_OK);
    assert_int_equal(kiln_port_p256_verify(P256_KEY, digest, P256_SIG_SAMPLE), KILN_PORT_OK);

    /* Another message, a flipped signature bit, r = 0: each does not verify. */
    uint8_t other[KILN_PORT_SHA256_LEN];
    assert_int_equal(kiln_port_sha256("test", 4, other), KILN_PORT_OK);
    assert_int_equal(kiln_port_p256_verify(P256_KEY, other, P256_SIG_SAMPLE), KILN_PORT_ERR_BAD_SIGNATURE);
    uint8_t sig[64];
    memcpy(sig, P256_SIG_SAMPLE, sizeof(sig));
    sig[63] ^= 0x01;
    assert_int_equal(kiln_port_p256_verify(P256_KEY, digest, sig), KILN_PORT_ERR_BAD_SIGNATURE);
    memset(sig, 0, 32);
    assert_int_equal(kiln_port_p256_verify(P256_KEY, digest, sig), KILN_PORT_ERR_BAD_SIGNATURE);
    /* r and s all ones: above the group order. */
    memset(sig, 0xFF, sizeof(sig));
    assert_int_equal(kiln_port_p256_verify(P256_KEY, digest, sig), KILN_PORT_ERR_BAD_SIGNATURE);
}

static void test_p256_refuses_points_off_the_curve(void **state)
{
    (void)state;
    uint8_t key[64];
    memcpy(key, P256_KEY, sizeof(key));
    key[63] ^= 0x01; /* y changed: no longer on the curve */
    assert_int_equal(kiln_port_p256_public_key_check(key), KILN_PORT_ERR_BAD_KEY);
    uint8_t digest[KILN_PORT_SHA256_LEN] = {0};
    assert_int_equal(kiln_port_p256_verify(key, digest, P256_SIG_SAMPLE), KILN_PORT_ERR_BAD_KEY);
    memset(key, 0xFF, sizeof(key)); /* coordinates above p */
    assert_int_equal(kiln_port_p256_public_key_check(key), KILN_PORT_ERR_BAD_KEY);
    memset(key, 0, sizeof(key)); /* (0, 0) is not a point */
    assert_int_equal(kiln_port_p256_public_key_check(key), KILN_PORT_ERR_BAD_KEY);
}

static void test_random_fills_and_differs(void **state)
{
    (void)state;
    uint8_t a[32] = {0};
    uint8_t b[32] = {0};
    assert_int_equal(kiln_port_random(a, sizeof(a)), KILN_PORT_OK);
    assert_int_equal(kiln_port_random(b, sizeof(b)), KILN_PORT_OK);
    /* 2^-256 odds of a false failure. */
    assert_memory_not_equal(a, b, sizeof(a));
    assert_int_equal(kiln_port_random(a, 0), KILN_PORT_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sha256_known_answers),
        cmocka_unit_test(test_p256_verify_rfc6979_sample),
        cmocka_unit_test(test_p256_refuses_points_off_the_curve),
        cmocka_unit_test(test_random_fills_and_differs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
