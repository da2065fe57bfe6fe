/*
 * ESP32 port: ESP-IDF v5.x, mbedTLS 3.x (the legacy ECP/ECDSA API, which IDF v5
 * ships and hardware-accelerates where the chip has an ECC/SHA peripheral) and
 * the hardware RNG. Thin glue only: every decision is in the core.
 */
#include "kiln_port.h"

#include <string.h>

#include "esp_random.h"
#include "mbedtls/bignum.h"
#include "mbedtls/ecdsa.h"
#include "mbedtls/ecp.h"
#include "mbedtls/sha256.h"

kiln_port_err_t kiln_port_sha256(const void *data, size_t len, uint8_t digest[KILN_PORT_SHA256_LEN])
{
    /* is224 = 0: SHA-256. */
    return mbedtls_sha256(data, len, digest, 0) == 0 ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}

/* Loads x || y as an uncompressed SEC1 point and validates it. */
static kiln_port_err_t load_public_key(mbedtls_ecp_group *grp, mbedtls_ecp_point *q,
                                       const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    uint8_t sec1[1 + KILN_PORT_P256_PUBLIC_KEY_LEN];
    sec1[0] = 0x04;
    memcpy(sec1 + 1, public_key, KILN_PORT_P256_PUBLIC_KEY_LEN);
    if (mbedtls_ecp_group_load(grp, MBEDTLS_ECP_DP_SECP256R1) != 0) {
        return KILN_PORT_ERR_FAIL;
    }
    int ret = mbedtls_ecp_point_read_binary(grp, q, sec1, sizeof(sec1));
    if (ret == MBEDTLS_ERR_ECP_BAD_INPUT_DATA) {
        return KILN_PORT_ERR_BAD_KEY;
    }
    if (ret != 0) {
        return KILN_PORT_ERR_FAIL;
    }
    ret = mbedtls_ecp_check_pubkey(grp, q);
    if (ret == MBEDTLS_ERR_ECP_INVALID_KEY) {
        return KILN_PORT_ERR_BAD_KEY;
    }
    return ret == 0 ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}

kiln_port_err_t kiln_port_p256_public_key_check(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    kiln_port_err_t err = load_public_key(&grp, &q, public_key);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return err;
}

kiln_port_err_t kiln_port_p256_verify(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN],
                                      const uint8_t digest[KILN_PORT_SHA256_LEN],
                                      const uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN])
{
    mbedtls_ecp_group grp;
    mbedtls_ecp_point q;
    mbedtls_mpi r;
    mbedtls_mpi s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_ecp_point_init(&q);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);

    kiln_port_err_t err = load_public_key(&grp, &q, public_key);
    if (err == KILN_PORT_OK) {
        if (mbedtls_mpi_read_binary(&r, signature, 32) != 0 ||
            mbedtls_mpi_read_binary(&s, signature + 32, 32) != 0) {
            err = KILN_PORT_ERR_FAIL;
        } else {
            /* mbedTLS answers VERIFY_FAILED both for a wrong signature and for r, s out of [1, n-1]. */
            int ret = mbedtls_ecdsa_verify(&grp, digest, KILN_PORT_SHA256_LEN, &q, &r, &s);
            if (ret == MBEDTLS_ERR_ECP_VERIFY_FAILED) {
                err = KILN_PORT_ERR_BAD_SIGNATURE;
            } else if (ret != 0) {
                err = KILN_PORT_ERR_FAIL;
            }
        }
    }
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_ecp_point_free(&q);
    mbedtls_ecp_group_free(&grp);
    return err;
}

kiln_port_err_t kiln_port_random(void *buf, size_t len)
{
    /* True random only while Wi-Fi/BT is on or the RNG entropy source is enabled
     * (ESP-IDF "Random Number Generation"); key generation runs with Wi-Fi up. */
    esp_fill_random(buf, len);
    return KILN_PORT_OK;
}

/* --- key generation and signing (mbedTLS 3.x legacy ECP API; grp.G and grp.N are
 * public fields of mbedtls_ecp_group in 3.x) ------------------------------------- */

/* mbedTLS RNG callback over the hardware RNG: int (*f_rng)(void *, unsigned char *, size_t). */
static int hw_rng(void *ctx, unsigned char *buf, size_t len)
{
    (void)ctx;
    esp_fill_random(buf, len);
    return 0;
}

/* Loads d and checks it is in [1, n-1]. */
static kiln_port_err_t load_private_key(mbedtls_ecp_group *grp, mbedtls_mpi *d,
                                        const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN])
{
    if (mbedtls_ecp_group_load(grp, MBEDTLS_ECP_DP_SECP256R1) != 0 ||
        mbedtls_mpi_read_binary(d, private_key, KILN_PORT_P256_PRIVATE_KEY_LEN) != 0) {
        return KILN_PORT_ERR_FAIL;
    }
    int ret = mbedtls_ecp_check_privkey(grp, d);
    if (ret == MBEDTLS_ERR_ECP_INVALID_KEY) {
        return KILN_PORT_ERR_BAD_KEY;
    }
    return ret == 0 ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}

/* Q as x || y (drops the 0x04 of the uncompressed SEC1 encoding). */
static kiln_port_err_t write_public_key(const mbedtls_ecp_group *grp, const mbedtls_ecp_point *q,
                                        uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    uint8_t sec1[1 + KILN_PORT_P256_PUBLIC_KEY_LEN];
    size_t olen = 0;
    if (mbedtls_ecp_point_write_binary(grp, q, MBEDTLS_ECP_PF_UNCOMPRESSED, &olen, sec1, sizeof(sec1)) != 0 ||
        olen != sizeof(sec1)) {
        return KILN_PORT_ERR_FAIL;
    }
    memcpy(public_key, sec1 + 1, KILN_PORT_P256_PUBLIC_KEY_LEN);
    return KILN_PORT_OK;
}

kiln_port_err_t kiln_port_p256_generate(uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                        uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    kiln_port_err_t err = KILN_PORT_ERR_FAIL;
    if (mbedtls_ecp_group_load(&grp, MBEDTLS_ECP_DP_SECP256R1) == 0 &&
        mbedtls_ecp_gen_keypair(&grp, &d, &q, hw_rng, NULL) == 0 &&
        mbedtls_mpi_write_binary(&d, private_key, KILN_PORT_P256_PRIVATE_KEY_LEN) == 0) {
        err = write_public_key(&grp, &q, public_key);
    }
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    return err;
}

kiln_port_err_t kiln_port_p256_public_key(const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                          uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_ecp_point q;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_ecp_point_init(&q);
    kiln_port_err_t err = load_private_key(&grp, &d, private_key);
    if (err == KILN_PORT_OK) {
        /* The RNG blinds the scalar multiplication against side channels. */
        err = mbedtls_ecp_mul(&grp, &q, &d, &grp.G, hw_rng, NULL) == 0 ? write_public_key(&grp, &q, public_key)
                                                                         : KILN_PORT_ERR_FAIL;
    }
    mbedtls_ecp_point_free(&q);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    return err;
}

kiln_port_err_t kiln_port_p256_sign(const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                    const uint8_t digest[KILN_PORT_SHA256_LEN],
                                    uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN])
{
    mbedtls_ecp_group grp;
    mbedtls_mpi d;
    mbedtls_mpi r;
    mbedtls_mpi s;
    mbedtls_ecp_group_init(&grp);
    mbedtls_mpi_init(&d);
    mbedtls_mpi_init(&r);
    mbedtls_mpi_init(&s);
    kiln_port_err_t err = load_private_key(&grp, &d, private_key);
    if (err == KILN_PORT_OK) {
        if (mbedtls_ecdsa_sign(&grp, &r, &s, &d, digest, KILN_PORT_SHA256_LEN, hw_rng, NULL) != 0 ||
            mbedtls_mpi_write_binary(&r, signature, 32) != 0 || mbedtls_mpi_write_binary(&s, signature + 32, 32) != 0) {
            err = KILN_PORT_ERR_FAIL;
        }
    }
    mbedtls_mpi_free(&s);
    mbedtls_mpi_free(&r);
    mbedtls_mpi_free(&d);
    mbedtls_ecp_group_free(&grp);
    return err;
}
