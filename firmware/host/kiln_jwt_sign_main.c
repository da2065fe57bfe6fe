/*
 * kiln-jwt-sign: signs a device JWT with the core (kiln_jwt_create) and a fresh key
 * from the host port, for the cross-language test (jose verifies it).
 *   kiln-jwt-sign DEVICE_ID AUDIENCE IAT LIFETIME_SEC
 * prints two lines: the public JWK, then the token. Exit 0, or 1 with a message.
 */
#include <stdio.h>
#include <stdlib.h>

#include "kiln_jwt.h"
#include "kiln_port.h"

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: kiln-jwt-sign DEVICE_ID AUDIENCE IAT LIFETIME_SEC\n");
        return 1;
    }
    uint8_t d[KILN_PORT_P256_PRIVATE_KEY_LEN];
    kiln_p256_public_key_t pub;
    if (kiln_port_p256_generate(d, pub.xy) != KILN_PORT_OK) {
        fprintf(stderr, "kiln-jwt-sign: key generation failed\n");
        return 1;
    }
    char jwk[KILN_JWK_JSON_MAX];
    char token[KILN_JWT_TOKEN_MAX];
    size_t len = 0;
    kiln_jwt_params_t p = {.device_id = argv[1], .audience = argv[2], .iat = strtoll(argv[3], NULL, 10),
                           .lifetime_sec = (uint32_t)strtoul(argv[4], NULL, 10)};
    kiln_err_t err = kiln_jwk_public_key_format(&pub, jwk, sizeof(jwk), &len);
    if (err == KILN_OK) {
        err = kiln_jwt_create(&p, d, token, sizeof(token), &len);
    }
    if (err != KILN_OK) {
        fprintf(stderr, "kiln-jwt-sign: %s\n", kiln_err_name(err));
        return 1;
    }
    printf("%s\n%s\n", jwk, token);
    return 0;
}
