/* Device JWT creation and JWK export (see kiln_jwt.h): the device side of SPEC.md §1.2.
 * The token is built in the caller's buffer; cJSON (freed before return) only escapes
 * the audience. ECDSA and randomness come from the port. */
#include "kiln_jwt.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cJSON.h"
#include "kiln_base64.h"
#include "kiln_format.h"
#include "kiln_port.h"

#define SAFE_INTEGER_MAX INT64_C(9007199254740991)
#define JTI_BYTES 16u

/* base64url("{"alg":"ES256","typ":"JWT"}") */
static const char HEADER_B64[] = "eyJhbGciOiJFUzI1NiIsInR5cCI6IkpXVCJ9";

static kiln_err_t from_port(kiln_port_err_t err)
{
    return err == KILN_PORT_OK ? KILN_OK : err == KILN_PORT_ERR_BAD_KEY ? KILN_ERR_JWK_BAD_KEY : KILN_ERR_PORT;
}

/* The claims as compact JSON into out (NUL-terminated). */
static kiln_err_t claims_json(const kiln_jwt_params_t *p, const char *jti, char *out, size_t out_size)
{
    char head[256];
    int n = snprintf(head, sizeof(head), "{\"iss\":\"%s\",\"sub\":\"%s\",\"aud\":", p->device_id, p->device_id);
    if (n < 0 || (size_t)n >= sizeof(head)) {
        return KILN_ERR_INVALID_ARG;
    }
    /* cJSON escapes the audience exactly as JSON needs; the rest is ASCII we control. */
    cJSON *aud = cJSON_CreateString(p->audience);
    char aud_json[2 * KILN_JWT_AUDIENCE_MAX + 8];
    if (aud == NULL) {
        return KILN_ERR_NO_MEM;
    }
    bool printed = cJSON_PrintPreallocated(aud, aud_json, (int)sizeof(aud_json), false) != 0;
    cJSON_Delete(aud);
    if (!printed) {
        return KILN_ERR_NO_MEM;
    }
    n = snprintf(out, out_size, "%s%s,\"iat\":%" PRId64 ",\"exp\":%" PRId64 ",\"jti\":\"%s\"}", head, aud_json,
                 p->iat, p->iat + (int64_t)p->lifetime_sec, jti);
    return n < 0 || (size_t)n >= out_size ? KILN_ERR_NO_MEM : KILN_OK;
}

kiln_err_t kiln_jwt_create(const kiln_jwt_params_t *params, const uint8_t private_key[32], char *out,
                           size_t out_size, size_t *out_len)
{
    if (params == NULL || params->device_id == NULL || params->audience == NULL || private_key == NULL ||
        out == NULL || out_len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    if (!kiln_is_device_id(params->device_id, strlen(params->device_id)) ||
        strlen(params->audience) > KILN_JWT_AUDIENCE_MAX || params->iat < 0 ||
        params->iat > SAFE_INTEGER_MAX - KILN_JWT_LIFETIME_MAX_SEC || params->lifetime_sec == 0 ||
        params->lifetime_sec > KILN_JWT_LIFETIME_MAX_SEC) {
        return KILN_ERR_INVALID_ARG;
    }
    uint8_t raw_jti[JTI_BYTES];
    char jti[KILN_BASE64URL_ENCODED_LEN(JTI_BYTES) + 1];
    size_t len = 0;
    kiln_err_t err = from_port(kiln_port_random(raw_jti, sizeof(raw_jti)));
    if (err != KILN_OK) {
        return err;
    }
    (void)kiln_base64url_encode(raw_jti, sizeof(raw_jti), jti, sizeof(jti), &len);
    jti[len] = '\0';

    char claims[KILN_JWT_TOKEN_MAX];
    err = claims_json(params, jti, claims, sizeof(claims));
    if (err != KILN_OK) {
        return err;
    }
    size_t claims_len = strlen(claims);
    size_t header_len = sizeof(HEADER_B64) - 1u;
    size_t total = header_len + 1u + KILN_BASE64URL_ENCODED_LEN(claims_len) + 1u +
                   KILN_BASE64URL_ENCODED_LEN(KILN_PORT_P256_SIGNATURE_LEN);
    if (out_size < total + 1u) {
        return KILN_ERR_NO_MEM;
    }
    memcpy(out, HEADER_B64, header_len);
    out[header_len] = '.';
    size_t o = header_len + 1u;
    (void)kiln_base64url_encode((const uint8_t *)claims, claims_len, out + o, out_size - o, &len);
    o += len;

    /* The signing input is the ASCII "header.payload". */
    uint8_t digest[KILN_PORT_SHA256_LEN];
    uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN];
    err = from_port(kiln_port_sha256(out, o, digest));
    if (err == KILN_OK) {
        err = from_port(kiln_port_p256_sign(private_key, digest, signature));
    }
    if (err != KILN_OK) {
        return err;
    }
    out[o++] = '.';
    (void)kiln_base64url_encode(signature, sizeof(signature), out + o, out_size - o, &len);
    o += len;
    out[o] = '\0';
    *out_len = o;
    return KILN_OK;
}

kiln_err_t kiln_jwk_public_key_format(const kiln_p256_public_key_t *key, char *out, size_t out_size, size_t *out_len)
{
    if (key == NULL || out == NULL || out_len == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    if (out_size < KILN_JWK_JSON_MAX) {
        return KILN_ERR_NO_MEM;
    }
    char x[KILN_BASE64URL_ENCODED_LEN(32) + 1];
    char y[KILN_BASE64URL_ENCODED_LEN(32) + 1];
    size_t len = 0;
    (void)kiln_base64url_encode(key->xy, 32, x, sizeof(x), &len);
    x[len] = '\0';
    (void)kiln_base64url_encode(key->xy + 32, 32, y, sizeof(y), &len);
    y[len] = '\0';
    int n = snprintf(out, out_size, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"}", x, y);
    *out_len = (size_t)n;
    return KILN_OK;
}
