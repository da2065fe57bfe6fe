/*
 * Device JWT check (SPEC.md §1.2): ES256 compact JWS, claims iss = sub = device id,
 * aud, iat, exp <= iat + 300, jti. The checks run in the contract's order and the
 * first failure is the result, the same code the TypeScript twin gives.
 * SHA-256 and ECDSA come from the port (kiln_port.h).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kiln_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_JWT_LIFETIME_MAX_SEC 300 /*!< exp - iat at most */
#define KILN_JWT_SKEW_DEFAULT_SEC 30  /*!< SPEC default clock skew */
#define KILN_JWT_JTI_MIN 16
#define KILN_JWT_JTI_MAX 64

/** A P-256 public key: x || y, big-endian, as the JWK's x and y decode. */
typedef struct {
    uint8_t xy[64];
} kiln_p256_public_key_t;

/** What a token is checked against. */
typedef struct {
    const char *audience; /*!< the gateway's audience (NUL-terminated) */
    int64_t now;          /*!< seconds since the epoch */
    int64_t skew;         /*!< allowed clock skew in seconds (KILN_JWT_SKEW_DEFAULT_SEC) */
} kiln_jwt_check_t;

/** Claims of a token that passed every check (aud equals the expected audience). */
typedef struct {
    char iss[65];
    char sub[65];
    char jti[65];
    int64_t iat;
    int64_t exp;
} kiln_jwt_claims_t;

/**
 * @brief Imports a public key from the JWK's base64url x and y (32 bytes each).
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_JWK_BAD_KEY if x or y is not canonical base64url of 32 bytes, or the point is not on P-256
 *   - KILN_ERR_PORT if the port failed
 */
kiln_err_t kiln_jwk_public_key_import(const char *x, size_t x_len, const char *y, size_t y_len,
                                      kiln_p256_public_key_t *key);

/**
 * @brief Imports a public key from JWK JSON: {"kty":"EC","crv":"P-256","x":…,"y":…}
 *        (other members, such as "d", "kid" or "use", are ignored).
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_JWK_BAD_KEY if it is not JSON, not an EC P-256 JWK, or the point is not on the curve
 *   - KILN_ERR_NO_MEM if cJSON ran out of heap
 *   - KILN_ERR_PORT if the port failed
 */
kiln_err_t kiln_jwk_public_key_parse(const char *json, size_t len, kiln_p256_public_key_t *key);

/**
 * @brief Checks a compact device JWT.
 *
 * @param work      scratch for the decoded segments, at least @p token_len bytes (no allocation
 *                  besides cJSON's, freed before return).
 * @param claims    receives the claims on success; may be NULL.
 * @return the first failing check, in this order:
 *   - KILN_ERR_JWT_MALFORMED: not three non-empty canonical base64url segments, header or payload
 *     not a JSON object, a "crit" header, or a signature that is not 64 bytes
 *   - KILN_ERR_JWT_BAD_ALG: header alg is not exactly "ES256"
 *   - KILN_ERR_JWT_BAD_SIGNATURE: the signature does not verify with @p key
 *   - KILN_ERR_JWT_BAD_CLAIM: iss (device id), sub (string), aud (string), iat, exp (safe integers),
 *     jti (token, 16..64 bytes) missing or wrong, checked in that order
 *   - KILN_ERR_JWT_BAD_SUBJECT: sub differs from iss
 *   - KILN_ERR_JWT_BAD_AUDIENCE: aud differs from check->audience
 *   - KILN_ERR_JWT_LIFETIME: exp <= iat or exp - iat > 300
 *   - KILN_ERR_JWT_NOT_YET_VALID: now + skew < iat
 *   - KILN_ERR_JWT_EXPIRED: now - skew >= exp
 *   or KILN_OK; and besides: KILN_ERR_INVALID_ARG (NULL pointer), KILN_ERR_NO_MEM (@p work too
 *   small, or cJSON out of heap), KILN_ERR_JWK_BAD_KEY (@p key not a P-256 point), KILN_ERR_PORT.
 */
kiln_err_t kiln_jwt_verify(const char *token, size_t token_len, const kiln_p256_public_key_t *key,
                           const kiln_jwt_check_t *check, uint8_t *work, size_t work_size,
                           kiln_jwt_claims_t *claims);

/** Claims of a token to create: iss = sub = device_id, exp = iat + lifetime_sec, a random jti. */
typedef struct {
    const char *device_id;  /*!< a deviceId (SPEC.md §1.4), NUL-terminated */
    const char *audience;   /*!< the gateway's audience, NUL-terminated, at most KILN_JWT_AUDIENCE_MAX bytes */
    int64_t iat;            /*!< seconds since the epoch, 0..2^53-1 */
    uint32_t lifetime_sec;  /*!< 1..KILN_JWT_LIFETIME_MAX_SEC */
} kiln_jwt_params_t;

#define KILN_JWT_AUDIENCE_MAX 256
/** Longest token kiln_jwt_create() writes for a 64-byte device id and a maximal audience, NUL included. */
#define KILN_JWT_TOKEN_MAX 768
/** Longest public JWK kiln_jwk_public_key_format() writes, NUL included. */
#define KILN_JWK_JSON_MAX 128

/**
 * @brief Creates and signs a device JWT (ES256, header {"alg":"ES256","typ":"JWT"}) with the
 *        port's ECDSA; jti is 16 random bytes as base64url (22 characters).
 *
 * @param out  receives the compact JWS, NUL-terminated.
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL, the device id is not a deviceId, the audience is
 *     too long, iat is out of range or lifetime_sec not in 1..300
 *   - KILN_ERR_NO_MEM if @p out_size is too small, or cJSON ran out of heap
 *   - KILN_ERR_JWK_BAD_KEY if @p private_key is not a P-256 private key
 *   - KILN_ERR_PORT if the port (RNG, ECDSA) failed
 */
kiln_err_t kiln_jwt_create(const kiln_jwt_params_t *params, const uint8_t private_key[32], char *out,
                           size_t out_size, size_t *out_len);

/**
 * @brief Writes a public key as JWK JSON {"kty":"EC","crv":"P-256","x":…,"y":…}, NUL-terminated.
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_NO_MEM if @p out_size < KILN_JWK_JSON_MAX
 */
kiln_err_t kiln_jwk_public_key_format(const kiln_p256_public_key_t *key, char *out, size_t out_size, size_t *out_len);

#ifdef __cplusplus
}
#endif
