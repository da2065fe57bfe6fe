/*
 * Template port: copy to port/<name>/kiln_port_<name>.c, implement each function
 * as kiln_port.h documents, and compile it instead of another port in CMake.
 * The host build compiles this file (never links it) so it stays in step with
 * kiln_port.h.
 */
#include "kiln_port.h"

kiln_port_err_t kiln_port_sha256(const void *data, size_t len, uint8_t digest[KILN_PORT_SHA256_LEN])
{
    (void)data;
    (void)len;
    (void)digest;
    return KILN_PORT_ERR_FAIL; /* TODO: SHA-256 of data */
}

kiln_port_err_t kiln_port_p256_public_key_check(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    (void)public_key;
    return KILN_PORT_ERR_FAIL; /* TODO: OK if x || y is on P-256, else BAD_KEY */
}

kiln_port_err_t kiln_port_p256_verify(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN],
                                      const uint8_t digest[KILN_PORT_SHA256_LEN],
                                      const uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN])
{
    (void)public_key;
    (void)digest;
    (void)signature;
    return KILN_PORT_ERR_FAIL; /* TODO: ECDSA verify; BAD_SIGNATURE when it does not verify */
}

kiln_port_err_t kiln_port_random(void *buf, size_t len)
{
    (void)buf;
    (void)len;
    return KILN_PORT_ERR_FAIL; /* TODO: a CSPRNG; never a PRNG seeded from time */
}

kiln_port_err_t kiln_port_p256_generate(uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                        uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    (void)private_key;
    (void)public_key;
    return KILN_PORT_ERR_FAIL; /* TODO: a fresh P-256 key pair from the hardware RNG */
}

kiln_port_err_t kiln_port_p256_public_key(const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                          uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    (void)private_key;
    (void)public_key;
    return KILN_PORT_ERR_FAIL; /* TODO: d·G; BAD_KEY for d outside [1, n-1] */
}

kiln_port_err_t kiln_port_p256_sign(const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                    const uint8_t digest[KILN_PORT_SHA256_LEN],
                                    uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN])
{
    (void)private_key;
    (void)digest;
    (void)signature;
    return KILN_PORT_ERR_FAIL; /* TODO: ECDSA r || s over the digest */
}
