/* Device JWT check and JWK import (see kiln_jwt.h). Twin of
 * protocol/src/jwt/device-token.ts: same checks, same order, same codes. */
#include "kiln_jwt.h"

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "cJSON.h"
#include "kiln_base64.h"
#include "kiln_format.h"
#include "kiln_json.h"
#include "kiln_port.h"

#define SAFE_INTEGER_MAX 9007199254740991.0 /* Number.MAX_SAFE_INTEGER */

typedef struct {
    const char *p;
    size_t len;
} segment_t;

static kiln_err_t from_port(kiln_port_err_t err)
{
    switch (err) {
    case KILN_PORT_OK:
        return KILN_OK;
    case KILN_PORT_ERR_BAD_SIGNATURE:
        return KILN_ERR_JWT_BAD_SIGNATURE;
    case KILN_PORT_ERR_BAD_KEY:
        return KILN_ERR_JWK_BAD_KEY;
    case KILN_PORT_ERR_FAIL:
    default:
        return KILN_ERR_PORT;
    }
}

kiln_err_t kiln_jwk_public_key_import(const char *x, size_t x_len, const char *y, size_t y_len,
                                      kiln_p256_public_key_t *key)
{
    if (x == NULL || y == NULL || key == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    kiln_p256_public_key_t k;
    size_t n = 0;
    if (kiln_base64url_decode(x, x_len, k.xy, 32, &n) != KILN_OK || n != 32 ||
        kiln_base64url_decode(y, y_len, k.xy + 32, 32, &n) != KILN_OK || n != 32) {
        return KILN_ERR_JWK_BAD_KEY;
    }
    kiln_err_t err = from_port(kiln_port_p256_public_key_check(k.xy));
    if (err == KILN_OK) {
        *key = k;
    }
    return err;
}

static const char *string_member(const cJSON *obj, const char *name)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

kiln_err_t kiln_jwk_public_key_parse(const char *json, size_t len, kiln_p256_public_key_t *key)
{
    if (json == NULL || key == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    cJSON *jwk = NULL;
    kiln_err_t err = kiln_json_parse(json, len, &jwk);
    if (err != KILN_OK) {
        return err == KILN_ERR_NO_MEM ? err : KILN_ERR_JWK_BAD_KEY;
    }
    const char *kty = string_member(jwk, "kty");
    const char *crv = string_member(jwk, "crv");
    const char *x = string_member(jwk, "x");
    const char *y = string_member(jwk, "y");
    if (!cJSON_IsObject(jwk) || kty == NULL || strcmp(kty, "EC") != 0 || crv == NULL ||
        strcmp(crv, "P-256") != 0 || x == NULL || y == NULL) {
        err = KILN_ERR_JWK_BAD_KEY;
    } else {
        err = kiln_jwk_public_key_import(x, strlen(x), y, strlen(y), key);
    }
    cJSON_Delete(jwk);
    return err;
}

/* Three non-empty dot-separated segments. */
static bool split_token(const char *token, size_t len, segment_t seg[3])
{
    size_t n = 0;
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && token[i] != '.') continue;
        if (n == 3 || i == start) return false;
        seg[n].p = token + start;
        seg[n].len = i - start;
        n++;
        start = i + 1;
    }
    return n == 3;
}

/* A JSON object from one base64url segment, decoded into out[0..). */
static kiln_err_t decode_object(const segment_t *seg, uint8_t *out, size_t out_size, cJSON **obj)
{
    size_t n = 0;
    if (kiln_base64url_decode(seg->p, seg->len, out, out_size, &n) != KILN_OK) {
        return KILN_ERR_JWT_MALFORMED;
    }
    kiln_err_t err = kiln_json_parse((const char *)out, n, obj);
    if (err == KILN_ERR_NO_MEM) return err;
    if (err != KILN_OK || !cJSON_IsObject(*obj)) return KILN_ERR_JWT_MALFORMED;
    return KILN_OK;
}

/* Number.isSafeInteger */
static bool safe_integer(const cJSON *v, int64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!isfinite(d) || trunc(d) != d || fabs(d) > SAFE_INTEGER_MAX) return false;
    *out = (int64_t)d;
    return true;
}

static kiln_err_t check_claims(const cJSON *payload, const kiln_jwt_check_t *check, kiln_jwt_claims_t *claims)
{
    const char *iss = string_member(payload, "iss");
    const char *sub = string_member(payload, "sub");
    const char *aud = string_member(payload, "aud");
    const char *jti = string_member(payload, "jti");
    int64_t iat = 0;
    int64_t exp = 0;
    if (iss == NULL || !kiln_is_device_id(iss, strlen(iss)) || sub == NULL || aud == NULL ||
        !safe_integer(cJSON_GetObjectItemCaseSensitive(payload, "iat"), &iat) ||
        !safe_integer(cJSON_GetObjectItemCaseSensitive(payload, "exp"), &exp) || jti == NULL ||
        !kiln_is_token(jti, strlen(jti), KILN_JWT_JTI_MIN, KILN_JWT_JTI_MAX)) {
        return KILN_ERR_JWT_BAD_CLAIM;
    }
    if (strcmp(sub, iss) != 0) return KILN_ERR_JWT_BAD_SUBJECT;
    if (strcmp(aud, check->audience) != 0) return KILN_ERR_JWT_BAD_AUDIENCE;
    if (exp <= iat || exp - iat > KILN_JWT_LIFETIME_MAX_SEC) return KILN_ERR_JWT_LIFETIME;
    if (check->now + check->skew < iat) return KILN_ERR_JWT_NOT_YET_VALID;
    if (check->now - check->skew >= exp) return KILN_ERR_JWT_EXPIRED;
    if (claims != NULL) {
        /* Lengths are bounded by the checks above (device id and jti at most 64 bytes). */
        memset(claims, 0, sizeof(*claims));
        strcpy(claims->iss, iss);
        strcpy(claims->sub, sub);
        strcpy(claims->jti, jti);
        claims->iat = iat;
        claims->exp = exp;
    }
    return KILN_OK;
}

kiln_err_t kiln_jwt_verify(const char *token, size_t token_len, const kiln_p256_public_key_t *key,
                           const kiln_jwt_check_t *check, uint8_t *work, size_t work_size,
                           kiln_jwt_claims_t *claims)
{
    if (token == NULL || key == NULL || check == NULL || check->audience == NULL || work == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    /* Keep now +/- skew exact (and overflow-free) in 64-bit integers, as JS numbers are. */
    if (check->skew < 0 || check->skew > (int64_t)SAFE_INTEGER_MAX || check->now > (int64_t)SAFE_INTEGER_MAX ||
        check->now < -(int64_t)SAFE_INTEGER_MAX) {
        return KILN_ERR_INVALID_ARG;
    }
    if (work_size < token_len) {
        return KILN_ERR_NO_MEM;
    }
    segment_t seg[3];
    if (!split_token(token, token_len, seg)) {
        return KILN_ERR_JWT_MALFORMED;
    }
    /* Each segment decodes into its own part of work, shorter than its text. */
    cJSON *header = NULL;
    cJSON *payload = NULL;
    uint8_t *signature = work + seg[0].len + seg[1].len;
    size_t sig_len = 0;
    kiln_err_t err = decode_object(&seg[0], work, seg[0].len, &header);
    if (err == KILN_OK) err = decode_object(&seg[1], work + seg[0].len, seg[1].len, &payload);
    if (err == KILN_OK &&
        (kiln_base64url_decode(seg[2].p, seg[2].len, signature, seg[2].len, &sig_len) != KILN_OK ||
         sig_len != KILN_PORT_P256_SIGNATURE_LEN)) {
        err = KILN_ERR_JWT_MALFORMED;
    }
    /* RFC 7515 §4.1.11: extensions marked critical that we do not know must be refused. */
    if (err == KILN_OK && cJSON_GetObjectItemCaseSensitive(header, "crit") != NULL) {
        err = KILN_ERR_JWT_MALFORMED;
    }
    if (err == KILN_OK) {
        const char *alg = string_member(header, "alg");
        if (alg == NULL || strcmp(alg, "ES256") != 0) err = KILN_ERR_JWT_BAD_ALG;
    }
    if (err == KILN_OK) {
        /* The signing input is the ASCII "header.payload" exactly as sent. */
        uint8_t digest[KILN_PORT_SHA256_LEN];
        err = from_port(kiln_port_sha256(token, seg[0].len + 1 + seg[1].len, digest));
        if (err == KILN_OK) err = from_port(kiln_port_p256_verify(key->xy, digest, signature));
    }
    if (err == KILN_OK) {
        err = check_claims(payload, check, claims);
    }
    cJSON_Delete(header);
    cJSON_Delete(payload);
    return err;
}
