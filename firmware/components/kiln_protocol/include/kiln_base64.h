/*
 * Strict, canonical base64 (RFC 4648 §4, padded) for Kiln RPC lines and
 * base64url (§5, unpadded) for JWTs. "Canonical" means one encoding per byte
 * string: the decoders refuse stray characters, wrong padding and non-zero
 * unused bits, as the TypeScript twin does by re-encoding and comparing.
 * No allocation: output goes to caller buffers.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "kiln_err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Characters base64 (padded) needs for @p n bytes, without a terminating NUL. */
#define KILN_BASE64_ENCODED_LEN(n) ((((n) + 2u) / 3u) * 4u)
/** Characters base64url (unpadded) needs for @p n bytes, without a terminating NUL. */
#define KILN_BASE64URL_ENCODED_LEN(n) (((n) / 3u) * 4u + ((n) % 3u == 0u ? 0u : (n) % 3u + 1u))

/**
 * @brief Encodes bytes as padded standard base64. Writes no NUL.
 *
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL (@p in may be NULL when @p n is 0)
 *   - KILN_ERR_NO_MEM if @p out_size < KILN_BASE64_ENCODED_LEN(n)
 */
kiln_err_t kiln_base64_encode(const uint8_t *in, size_t n, char *out, size_t out_size, size_t *out_len);

/**
 * @brief Decodes canonical padded standard base64 (length a multiple of 4).
 *
 * @return
 *   - KILN_OK ("" decodes to 0 bytes)
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL
 *   - KILN_ERR_BAD_ENCODING if the text is not canonical base64
 *   - KILN_ERR_NO_MEM if the bytes do not fit in @p out_size
 */
kiln_err_t kiln_base64_decode(const char *in, size_t n, uint8_t *out, size_t out_size, size_t *out_len);

/**
 * @brief Encodes bytes as unpadded base64url. Writes no NUL.
 *
 * @return KILN_OK, KILN_ERR_INVALID_ARG, or KILN_ERR_NO_MEM as kiln_base64_encode().
 */
kiln_err_t kiln_base64url_encode(const uint8_t *in, size_t n, char *out, size_t out_size, size_t *out_len);

/**
 * @brief Decodes canonical unpadded base64url ('=' is refused).
 *
 * @return KILN_OK, KILN_ERR_INVALID_ARG, KILN_ERR_BAD_ENCODING or KILN_ERR_NO_MEM
 *         as kiln_base64_decode().
 */
kiln_err_t kiln_base64url_decode(const char *in, size_t n, uint8_t *out, size_t out_size, size_t *out_len);

#ifdef __cplusplus
}
#endif
