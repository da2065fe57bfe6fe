/*
 * Kiln portable layer API.
 *
 * Each function below must be defined by every port; the core (kiln_protocol)
 * calls nothing platform-specific besides these. Ports live in port/<name>/:
 *   port/esp32/     ESP-IDF v5.x: mbedTLS 3.x and the hardware RNG
 *   port/host/      Linux: OpenSSL 3 (the host build CI runs)
 *   port/template/  the skeleton to start a new port from
 * The port is chosen by which port/<name>/ source CMake compiles, never by
 * #ifdef in the core (as FreeRTOS picks a portable/ directory).
 *
 * All functions are reentrant and may be called from any task. Byte strings are
 * big-endian, as on the wire: a P-256 public key is x || y (32 + 32 bytes, the
 * JWK's x and y), a signature is r || s (32 + 32 bytes, JWS ES256).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_PORT_SHA256_LEN          32u
#define KILN_PORT_P256_PUBLIC_KEY_LEN 64u /*!< x || y */
#define KILN_PORT_P256_SIGNATURE_LEN  64u /*!< r || s */
#define KILN_PORT_P256_PRIVATE_KEY_LEN 32u /*!< the scalar d, big-endian */

typedef enum {
    KILN_PORT_OK = 0,             /*!< success */
    KILN_PORT_ERR_FAIL,           /*!< the backend failed (out of memory, hardware, RNG) */
    KILN_PORT_ERR_BAD_SIGNATURE,  /*!< inputs well-formed, but the signature does not verify */
    KILN_PORT_ERR_BAD_KEY,        /*!< the public key is not a point on P-256, or the private key not in [1, n-1] */
    KILN_PORT_ERR_NOT_FOUND,      /*!< (storage) no value under that key */
    KILN_PORT_ERR_TOO_LARGE,      /*!< (storage) the value does not fit the caller's buffer, or the store is full */
} kiln_port_err_t;

/**
 * @brief SHA-256 of @p len bytes.
 *
 * @return
 *   - KILN_PORT_OK with @p digest filled
 *   - KILN_PORT_ERR_FAIL if the backend failed
 */
kiln_port_err_t kiln_port_sha256(const void *data, size_t len, uint8_t digest[KILN_PORT_SHA256_LEN]);

/**
 * @brief Checks that x || y is a valid P-256 public point (coordinates below p, on the curve).
 *
 * @return
 *   - KILN_PORT_OK if it is
 *   - KILN_PORT_ERR_BAD_KEY if it is not
 *   - KILN_PORT_ERR_FAIL if the backend failed
 */
kiln_port_err_t kiln_port_p256_public_key_check(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN]);

/**
 * @brief Verifies an ECDSA P-256 signature r || s over a SHA-256 @p digest.
 *
 * r or s of zero or not below the group order is a signature that does not verify.
 *
 * @return
 *   - KILN_PORT_OK if the signature verifies
 *   - KILN_PORT_ERR_BAD_SIGNATURE if it does not
 *   - KILN_PORT_ERR_BAD_KEY if @p public_key is not a P-256 point
 *   - KILN_PORT_ERR_FAIL if the backend failed
 */
kiln_port_err_t kiln_port_p256_verify(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN],
                                      const uint8_t digest[KILN_PORT_SHA256_LEN],
                                      const uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN]);

/**
 * @brief Fills @p buf with @p len cryptographically secure random bytes.
 *
 * @return
 *   - KILN_PORT_OK
 *   - KILN_PORT_ERR_FAIL if no secure randomness is available
 */
kiln_port_err_t kiln_port_random(void *buf, size_t len);

/**
 * @brief Generates a P-256 key pair from the port's secure randomness.
 *
 * The private key is the raw scalar d; the core keeps it in the device's storage
 * (NVS) and it never leaves the device.
 *
 * @return
 *   - KILN_PORT_OK with both keys filled
 *   - KILN_PORT_ERR_FAIL if the backend or the RNG failed
 */
kiln_port_err_t kiln_port_p256_generate(uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                        uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN]);

/**
 * @brief Computes the public key x || y of a private key (public-key export).
 *
 * @return
 *   - KILN_PORT_OK
 *   - KILN_PORT_ERR_BAD_KEY if d is 0 or not below the group order
 *   - KILN_PORT_ERR_FAIL if the backend failed
 */
kiln_port_err_t kiln_port_p256_public_key(const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                          uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN]);

/**
 * @brief Signs a SHA-256 @p digest with ECDSA P-256: r || s, 32 bytes each (JWS ES256).
 *
 * @return
 *   - KILN_PORT_OK
 *   - KILN_PORT_ERR_BAD_KEY if d is 0 or not below the group order
 *   - KILN_PORT_ERR_FAIL if the backend or the RNG failed
 */
kiln_port_err_t kiln_port_p256_sign(const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                    const uint8_t digest[KILN_PORT_SHA256_LEN],
                                    uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN]);

#ifdef __cplusplus
}
#endif
