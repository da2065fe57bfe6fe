/*
 * Kiln error codes: one integer type for the whole core, with a base per module
 * (ESP-IDF style, as ESP_ERR_NVS_BASE). The names after KILN_ERR_ are the codes
 * SPEC.md gives, so kiln_err_name() answers the same string the TypeScript twin
 * reports and the shared vectors contain.
 */
#pragma once

#ifdef __cplusplus
extern "C" {
#endif

typedef int kiln_err_t;

#define KILN_OK                     0       /*!< success */

/* Caller and environment errors: not part of the wire contract. */
#define KILN_ERR_INVALID_ARG        0x0001  /*!< a NULL pointer or an impossible argument */
#define KILN_ERR_NO_MEM             0x0002  /*!< a caller-provided buffer is too small, or cJSON ran out of heap */
#define KILN_ERR_PORT               0x0003  /*!< the port (crypto backend, RNG) failed */
#define KILN_ERR_BAD_ENCODING       0x0004  /*!< text is not canonical base64 / base64url */

/* Improv Serial frames (SPEC.md §2.2). */
#define KILN_ERR_IMPROV_BASE        0x0100
#define KILN_ERR_IMPROV_TRUNCATED   (KILN_ERR_IMPROV_BASE + 1) /*!< fewer bytes than a frame needs, or no "IMPROV" magic */
#define KILN_ERR_IMPROV_BAD_VERSION (KILN_ERR_IMPROV_BASE + 2) /*!< version byte is not 0x01 */
#define KILN_ERR_IMPROV_BAD_CHECKSUM (KILN_ERR_IMPROV_BASE + 3) /*!< last byte is not the sum of the others */
#define KILN_ERR_IMPROV_BAD_LENGTH  (KILN_ERR_IMPROV_BASE + 4) /*!< data shorter than its inner lengths say, or bytes after the frame */

/* Kiln RPC frame lines and reassembly (SPEC.md §2.3). */
#define KILN_ERR_RPC_BASE           0x0200
#define KILN_ERR_RPC_TOO_LONG       (KILN_ERR_RPC_BASE + 1) /*!< line over 512 bytes */
#define KILN_ERR_RPC_BAD_VERSION    (KILN_ERR_RPC_BASE + 2) /*!< does not start with 0x01 'K' '1' */
#define KILN_ERR_RPC_BAD_ENCODING   (KILN_ERR_RPC_BASE + 3) /*!< no ':' after "K1", or not canonical base64 */
#define KILN_ERR_RPC_BAD_LENGTH     (KILN_ERR_RPC_BASE + 4) /*!< P under 12 bytes or data over 256 */
#define KILN_ERR_RPC_BAD_CHECKSUM   (KILN_ERR_RPC_BASE + 5) /*!< CRC32 of header and data does not match */
#define KILN_ERR_RPC_BAD_KIND       (KILN_ERR_RPC_BASE + 6) /*!< kind is neither request nor response */
#define KILN_ERR_RPC_BAD_FLAGS      (KILN_ERR_RPC_BASE + 7) /*!< a reserved flag bit is set */
#define KILN_ERR_RPC_BAD_CHUNK      (KILN_ERR_RPC_BASE + 8) /*!< chunk out of order or of another message (answer status BAD_CHUNK) */
#define KILN_ERR_RPC_TOO_LARGE      (KILN_ERR_RPC_BASE + 9) /*!< reassembled value over 8192 bytes or the buffer (answer status TOO_LARGE) */

/* Device JWT (SPEC.md §1.2), in check order. */
#define KILN_ERR_JWT_BASE           0x0300
#define KILN_ERR_JWT_MALFORMED      (KILN_ERR_JWT_BASE + 1) /*!< not three canonical base64url segments of JSON objects and a 64-byte signature */
#define KILN_ERR_JWT_BAD_ALG        (KILN_ERR_JWT_BASE + 2) /*!< header alg is not exactly "ES256" */
#define KILN_ERR_JWT_BAD_SIGNATURE  (KILN_ERR_JWT_BASE + 3) /*!< the signature does not verify with the key */
#define KILN_ERR_JWT_BAD_CLAIM      (KILN_ERR_JWT_BASE + 4) /*!< a claim is missing or of the wrong type or format */
#define KILN_ERR_JWT_BAD_SUBJECT    (KILN_ERR_JWT_BASE + 5) /*!< sub differs from iss */
#define KILN_ERR_JWT_BAD_AUDIENCE   (KILN_ERR_JWT_BASE + 6) /*!< aud differs from the expected audience */
#define KILN_ERR_JWT_LIFETIME       (KILN_ERR_JWT_BASE + 7) /*!< exp <= iat or exp - iat > 300 */
#define KILN_ERR_JWT_NOT_YET_VALID  (KILN_ERR_JWT_BASE + 8) /*!< now + skew < iat */
#define KILN_ERR_JWT_EXPIRED        (KILN_ERR_JWT_BASE + 9) /*!< now - skew >= exp */
#define KILN_ERR_JWK_BAD_KEY        (KILN_ERR_JWT_BASE + 10) /*!< not a P-256 public JWK (C only: a provisioning error, not a token check) */

/* kiln.v1 message validation (SPEC.md §1.5); the path says where. */
#define KILN_ERR_MSG_BASE           0x0400
#define KILN_ERR_MSG_TOO_LARGE      (KILN_ERR_MSG_BASE + 1)  /*!< more than 65536 bytes */
#define KILN_ERR_MSG_INVALID_JSON   (KILN_ERR_MSG_BASE + 2)  /*!< not JSON (RFC 8259, UTF-8) */
#define KILN_ERR_MSG_WRONG_TYPE     (KILN_ERR_MSG_BASE + 3)  /*!< a value of the wrong JSON type */
#define KILN_ERR_MSG_MISSING_FIELD  (KILN_ERR_MSG_BASE + 4)  /*!< a required field is absent */
#define KILN_ERR_MSG_UNKNOWN_TYPE   (KILN_ERR_MSG_BASE + 5)  /*!< type names no kiln.v1 message */
#define KILN_ERR_MSG_UNEXPECTED_TYPE (KILN_ERR_MSG_BASE + 6) /*!< a message this sender never sends */
#define KILN_ERR_MSG_UNKNOWN_FIELD  (KILN_ERR_MSG_BASE + 7)  /*!< an undeclared key */
#define KILN_ERR_MSG_NOT_INTEGER    (KILN_ERR_MSG_BASE + 8)  /*!< a number with a fraction where an integer is due */
#define KILN_ERR_MSG_OUT_OF_RANGE   (KILN_ERR_MSG_BASE + 9)  /*!< an integer out of bounds, or a number not finite */
#define KILN_ERR_MSG_TOO_SHORT      (KILN_ERR_MSG_BASE + 10) /*!< string bytes or item count under the minimum */
#define KILN_ERR_MSG_TOO_LONG       (KILN_ERR_MSG_BASE + 11) /*!< string bytes or item count over the maximum */
#define KILN_ERR_MSG_BAD_FORMAT     (KILN_ERR_MSG_BASE + 12) /*!< a string (or map key) not of its format */
#define KILN_ERR_MSG_NOT_ALLOWED    (KILN_ERR_MSG_BASE + 13) /*!< a string outside its enumeration */

/**
 * @brief The contract name of an error code.
 *
 * @return The code as SPEC.md and the vectors spell it: "IMPROV_TRUNCATED",
 *         "RPC_BAD_KIND", "JWT_EXPIRED"; for reassembly the RPC status names
 *         "BAD_CHUNK" and "TOO_LARGE"; for messages the bare code, such as
 *         "MISSING_FIELD". "OK" for KILN_OK; "INVALID_ARG", "NO_MEM", "PORT",
 *         "BAD_ENCODING", "JWK_BAD_KEY" for the C-side codes; "UNKNOWN" for
 *         anything else. Never NULL.
 */
const char *kiln_err_name(kiln_err_t err);

#ifdef __cplusplus
}
#endif
