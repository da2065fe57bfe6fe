/* kiln_jwt against jwt.json (every case, with its key, time and skew), JWK import,
 * and tampering: no truncated or altered token ever verifies. */
#include <stdlib.h>
#include <string.h>

#include "kiln_jwt.h"
#include "kiln_test_support.h"

static kiln_p256_public_key_t key_named(const cJSON *root, const char *name)
{
    const cJSON *entry = kt_member(kt_member(root, "keys"), name);
    char *jwk = cJSON_PrintUnformatted(kt_member(entry, "publicJwk"));
    kiln_p256_public_key_t key;
    kiln_err_t err = kiln_jwk_public_key_parse(jwk, strlen(jwk), &key);
    if (err != KILN_OK) fail_msg("key %s: %s", name, kiln_err_name(err));
    free(jwk);
    return key;
}

static kiln_jwt_check_t check_for(const cJSON *root, const cJSON *c)
{
    kiln_jwt_check_t check = {
        .audience = kt_string(root, "audience"),
        .now = (int64_t)kt_number(c, "now"),
        .skew = (int64_t)kt_number(root, "skew"),
    };
    return check;
}

static kiln_err_t verify(const char *token, size_t len, const kiln_p256_public_key_t *key,
                         const kiln_jwt_check_t *check, kiln_jwt_claims_t *claims)
{
    uint8_t *work = malloc(len + 1);
    kiln_err_t err = kiln_jwt_verify(token, len, key, check, work, len, claims);
    free(work);
    return err;
}

static void test_vector_cases(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, kt_array(root, "cases"))
    {
        const char *name = kt_string(c, "name");
        kiln_p256_public_key_t key = key_named(root, kt_string(c, "key"));
        kiln_jwt_check_t check = check_for(root, c);
        const char *token = kt_string(c, "token");
        kiln_jwt_claims_t claims;
        kiln_err_t err = verify(token, strlen(token), &key, &check, &claims);
        if (cJSON_IsTrue(kt_member(c, "valid"))) {
            if (err != KILN_OK) fail_msg("%s: %s", name, kiln_err_name(err));
            const cJSON *want = kt_member(c, "claims");
            assert_string_equal(claims.iss, kt_string(want, "iss"));
            assert_string_equal(claims.sub, kt_string(want, "sub"));
            assert_string_equal(check.audience, kt_string(want, "aud"));
            assert_string_equal(claims.jti, kt_string(want, "jti"));
            assert_true(claims.iat == (int64_t)kt_number(want, "iat"));
            assert_true(claims.exp == (int64_t)kt_number(want, "exp"));
        } else if (strcmp(kiln_err_name(err), kt_string(c, "error")) != 0) {
            fail_msg("%s: got %s, want %s", name, kiln_err_name(err), kt_string(c, "error"));
        }
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

static const cJSON *first_valid_case(const cJSON *root)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, kt_array(root, "cases"))
    {
        if (cJSON_IsTrue(kt_member(c, "valid"))) return c;
    }
    fail_msg("jwt.json has no valid case");
    return NULL;
}

/* No prefix of a valid token verifies, and none crashes. */
static void test_truncated_tokens_never_verify(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c = first_valid_case(root);
    kiln_p256_public_key_t key = key_named(root, kt_string(c, "key"));
    kiln_jwt_check_t check = check_for(root, c);
    const char *token = kt_string(c, "token");
    for (size_t n = 0; n < strlen(token); n++) {
        char *cut = malloc(n + 1);
        memcpy(cut, token, n);
        assert_int_not_equal(verify(cut, n, &key, &check, NULL), KILN_OK);
        free(cut);
    }
    cJSON_Delete(root);
}

/* Changing any one character of a valid token makes it fail (signature, encoding or shape). */
static void test_altered_tokens_never_verify(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c = first_valid_case(root);
    kiln_p256_public_key_t key = key_named(root, kt_string(c, "key"));
    kiln_jwt_check_t check = check_for(root, c);
    const char *token = kt_string(c, "token");
    size_t len = strlen(token);
    char *copy = malloc(len);
    static const char REPLACEMENTS[] = "Aa0_-.=+/ \x80";
    for (size_t i = 0; i < len; i++) {
        for (const char *r = REPLACEMENTS; *r != '\0'; r++) {
            if (*r == token[i]) continue;
            memcpy(copy, token, len);
            copy[i] = *r;
            assert_int_not_equal(verify(copy, len, &key, &check, NULL), KILN_OK);
        }
    }
    free(copy);
    cJSON_Delete(root);
}

static void test_work_buffer_too_small(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c = first_valid_case(root);
    kiln_p256_public_key_t key = key_named(root, kt_string(c, "key"));
    kiln_jwt_check_t check = check_for(root, c);
    const char *token = kt_string(c, "token");
    uint8_t work[16];
    assert_int_equal(kiln_jwt_verify(token, strlen(token), &key, &check, work, sizeof(work), NULL), KILN_ERR_NO_MEM);
    cJSON_Delete(root);
}

static void test_jwk_import_refuses_bad_keys(void **state)
{
    (void)state;
    kiln_p256_public_key_t key;
    /* Not on the curve: x = 1, y = 1. */
    const char *one = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAE";
    assert_int_equal(kiln_jwk_public_key_import(one, strlen(one), one, strlen(one), &key), KILN_ERR_JWK_BAD_KEY);
    /* 31-byte coordinate. */
    const char *short_x = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
    assert_int_equal(kiln_jwk_public_key_import(short_x, strlen(short_x), one, strlen(one), &key),
                     KILN_ERR_JWK_BAD_KEY);
    static const char *const BAD_JWKS[] = {
        "{\"kty\":\"RSA\",\"crv\":\"P-256\",\"x\":\"AA\",\"y\":\"AA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}",
        "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"AA\"}",
        "[\"EC\"]",
        "not json",
    };
    for (size_t i = 0; i < sizeof(BAD_JWKS) / sizeof(BAD_JWKS[0]); i++) {
        assert_int_equal(kiln_jwk_public_key_parse(BAD_JWKS[i], strlen(BAD_JWKS[i]), &key), KILN_ERR_JWK_BAD_KEY);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vector_cases),
        cmocka_unit_test(test_truncated_tokens_never_verify),
        cmocka_unit_test(test_altered_tokens_never_verify),
        cmocka_unit_test(test_work_buffer_too_small),
        cmocka_unit_test(test_jwk_import_refuses_bad_keys),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
