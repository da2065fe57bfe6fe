/*
 * Host port: Linux, OpenSSL 3 (EVP and OSSL_PARAM APIs only, nothing deprecated).
 * This is the port CI runs the core against; it must agree with port/esp32 on
 * every input, which the shared vectors check.
 */
#include "kiln_port.h"

#include <limits.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/params.h>
#include <openssl/rand.h>

kiln_port_err_t kiln_port_sha256(const void *data, size_t len, uint8_t digest[KILN_PORT_SHA256_LEN])
{
    unsigned int out_len = 0;
    static const uint8_t empty[1] = {0};
    int ok = EVP_Digest(data != NULL ? data : empty, len, digest, &out_len, EVP_sha256(), NULL);
    return ok == 1 && out_len == KILN_PORT_SHA256_LEN ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}

/* x || y as an EVP_PKEY, fully checked (coordinates below p, on the curve). */
static kiln_port_err_t load_public_key(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN], EVP_PKEY **out)
{
    uint8_t sec1[1 + KILN_PORT_P256_PUBLIC_KEY_LEN];
    sec1[0] = 0x04; /* uncompressed SEC1 point */
    memcpy(sec1 + 1, public_key, KILN_PORT_P256_PUBLIC_KEY_LEN);
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, sec1, sizeof(sec1)),
        OSSL_PARAM_construct_end(),
    };
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    if (ctx == NULL) {
        return KILN_PORT_ERR_FAIL;
    }
    kiln_port_err_t err = KILN_PORT_ERR_FAIL;
    if (EVP_PKEY_fromdata_init(ctx) == 1) {
        /* fromdata refuses a point off the curve; public_check adds the range checks. */
        err = EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) == 1 ? KILN_PORT_OK : KILN_PORT_ERR_BAD_KEY;
    }
    EVP_PKEY_CTX_free(ctx);
    if (err == KILN_PORT_OK) {
        EVP_PKEY_CTX *check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
        if (check == NULL) {
            err = KILN_PORT_ERR_FAIL;
        } else if (EVP_PKEY_public_check(check) != 1) {
            err = KILN_PORT_ERR_BAD_KEY;
        }
        EVP_PKEY_CTX_free(check);
    }
    if (err != KILN_PORT_OK) {
        EVP_PKEY_free(pkey);
        ERR_clear_error();
        return err;
    }
    *out = pkey;
    return KILN_PORT_OK;
}

kiln_port_err_t kiln_port_p256_public_key_check(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    EVP_PKEY *pkey = NULL;
    kiln_port_err_t err = load_public_key(public_key, &pkey);
    EVP_PKEY_free(pkey);
    return err;
}

/* r || s as the DER ECDSA-Sig-Value OpenSSL verifies; at most 72 bytes for P-256. */
static int signature_to_der(const uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN], uint8_t der[80])
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(signature, 32, NULL);
    BIGNUM *s = BN_bin2bn(signature + 32, 32, NULL);
    int len = -1;
    if (sig != NULL && r != NULL && s != NULL && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = NULL; /* owned by sig now */
        s = NULL;
        if (i2d_ECDSA_SIG(sig, NULL) <= 80) {
            uint8_t *p = der;
            len = i2d_ECDSA_SIG(sig, &p);
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return len;
}

kiln_port_err_t kiln_port_p256_verify(const uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN],
                                      const uint8_t digest[KILN_PORT_SHA256_LEN],
                                      const uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN])
{
    EVP_PKEY *pkey = NULL;
    kiln_port_err_t err = load_public_key(public_key, &pkey);
    if (err != KILN_PORT_OK) {
        return err;
    }
    uint8_t der[80];
    int der_len = signature_to_der(signature, der);
    EVP_PKEY_CTX *ctx = der_len > 0 ? EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL) : NULL;
    if (ctx == NULL || EVP_PKEY_verify_init(ctx) != 1) {
        err = KILN_PORT_ERR_FAIL;
    } else {
        /* 1 verifies; 0 does not (OpenSSL also answers 0 for r, s out of [1, n-1]); < 0 is an error. */
        int ret = EVP_PKEY_verify(ctx, der, (size_t)der_len, digest, KILN_PORT_SHA256_LEN);
        err = ret == 1 ? KILN_PORT_OK : ret == 0 ? KILN_PORT_ERR_BAD_SIGNATURE : KILN_PORT_ERR_FAIL;
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return err;
}

kiln_port_err_t kiln_port_random(void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        int chunk = len > (size_t)INT_MAX ? INT_MAX : (int)len;
        if (RAND_bytes(p, chunk) != 1) {
            return KILN_PORT_ERR_FAIL;
        }
        p += chunk;
        len -= (size_t)chunk;
    }
    return KILN_PORT_OK;
}

/* --- key generation and signing ------------------------------------------------ */

static EC_GROUP *p256_group(void) { return EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1); }

/* d as a BIGNUM, checked to be in [1, n-1]. */
static kiln_port_err_t load_scalar(const EC_GROUP *group, const uint8_t d[KILN_PORT_P256_PRIVATE_KEY_LEN], BIGNUM **out)
{
    BIGNUM *bn = BN_bin2bn(d, KILN_PORT_P256_PRIVATE_KEY_LEN, NULL);
    if (bn == NULL) {
        return KILN_PORT_ERR_FAIL;
    }
    if (BN_is_zero(bn) || BN_cmp(bn, EC_GROUP_get0_order(group)) >= 0) {
        BN_free(bn);
        return KILN_PORT_ERR_BAD_KEY;
    }
    *out = bn;
    return KILN_PORT_OK;
}

/* d·G as the uncompressed SEC1 point 04 || x || y. */
static kiln_port_err_t derive_public(const uint8_t d[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                     uint8_t sec1[1 + KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    EC_GROUP *group = p256_group();
    EC_POINT *q = group != NULL ? EC_POINT_new(group) : NULL;
    BIGNUM *bn = NULL;
    kiln_port_err_t err = q == NULL ? KILN_PORT_ERR_FAIL : load_scalar(group, d, &bn);
    if (err == KILN_PORT_OK) {
        if (EC_POINT_mul(group, q, bn, NULL, NULL, NULL) != 1 ||
            EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, sec1, 1 + KILN_PORT_P256_PUBLIC_KEY_LEN,
                               NULL) != 1 + KILN_PORT_P256_PUBLIC_KEY_LEN) {
            err = KILN_PORT_ERR_FAIL;
        }
    }
    BN_clear_free(bn);
    EC_POINT_free(q);
    EC_GROUP_free(group);
    ERR_clear_error();
    return err;
}

kiln_port_err_t kiln_port_p256_public_key(const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                          uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    uint8_t sec1[1 + KILN_PORT_P256_PUBLIC_KEY_LEN];
    kiln_port_err_t err = derive_public(private_key, sec1);
    if (err == KILN_PORT_OK) {
        memcpy(public_key, sec1 + 1, KILN_PORT_P256_PUBLIC_KEY_LEN);
    }
    return err;
}

kiln_port_err_t kiln_port_p256_generate(uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                        uint8_t public_key[KILN_PORT_P256_PUBLIC_KEY_LEN])
{
    EVP_PKEY *pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
    BIGNUM *d = NULL;
    kiln_port_err_t err = KILN_PORT_ERR_FAIL;
    if (pkey != NULL && EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) == 1 &&
        BN_bn2binpad(d, private_key, KILN_PORT_P256_PRIVATE_KEY_LEN) == (int)KILN_PORT_P256_PRIVATE_KEY_LEN) {
        err = kiln_port_p256_public_key(private_key, public_key);
    }
    BN_clear_free(d);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return err;
}

/* The key pair as an EVP_PKEY (OpenSSL wants the public part too). */
static kiln_port_err_t load_private_key(const uint8_t d[KILN_PORT_P256_PRIVATE_KEY_LEN], EVP_PKEY **out)
{
    uint8_t sec1[1 + KILN_PORT_P256_PUBLIC_KEY_LEN];
    kiln_port_err_t err = derive_public(d, sec1);
    if (err != KILN_PORT_OK) {
        return err;
    }
    BIGNUM *bn = BN_bin2bn(d, KILN_PORT_P256_PRIVATE_KEY_LEN, NULL);
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    err = KILN_PORT_ERR_FAIL;
    if (bn != NULL && bld != NULL && ctx != NULL &&
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) == 1 &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, bn) == 1 &&
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, sec1, sizeof(sec1)) == 1 &&
        (params = OSSL_PARAM_BLD_to_param(bld)) != NULL && EVP_PKEY_fromdata_init(ctx) == 1 &&
        EVP_PKEY_fromdata(ctx, out, EVP_PKEY_KEYPAIR, params) == 1) {
        err = KILN_PORT_OK;
    }
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    EVP_PKEY_CTX_free(ctx);
    BN_clear_free(bn);
    return err;
}

kiln_port_err_t kiln_port_p256_sign(const uint8_t private_key[KILN_PORT_P256_PRIVATE_KEY_LEN],
                                    const uint8_t digest[KILN_PORT_SHA256_LEN],
                                    uint8_t signature[KILN_PORT_P256_SIGNATURE_LEN])
{
    EVP_PKEY *pkey = NULL;
    kiln_port_err_t err = load_private_key(private_key, &pkey);
    if (err != KILN_PORT_OK) {
        ERR_clear_error();
        return err;
    }
    err = KILN_PORT_ERR_FAIL;
    uint8_t der[80];
    size_t der_len = sizeof(der);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 &&
        EVP_PKEY_sign(ctx, der, &der_len, digest, KILN_PORT_SHA256_LEN) == 1) {
        const uint8_t *p = der;
        ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
        if (sig != NULL && BN_bn2binpad(ECDSA_SIG_get0_r(sig), signature, 32) == 32 &&
            BN_bn2binpad(ECDSA_SIG_get0_s(sig), signature + 32, 32) == 32) {
            err = KILN_PORT_OK;
        }
        ECDSA_SIG_free(sig);
    }
    EVP_PKEY_CTX_free(ctx);
    EVP_PKEY_free(pkey);
    ERR_clear_error();
    return err;
}
