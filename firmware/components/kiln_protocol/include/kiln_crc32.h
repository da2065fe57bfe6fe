/*
 * The CRC32 ESP-IDF uses everywhere (NVS, otadata, Kiln RPC): reflected polynomial
 * 0xEDB88320, register init 0, xorout 0xFFFFFFFF. It is esp_rom_crc32_le() started
 * from 0xFFFFFFFF, and zlib.crc32(buf, 0xFFFFFFFF); not standard CRC-32
 * ("123456789" gives 0xD202D277, not 0xCBF43926).
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The value to start a CRC with (what IDF passes to esp_rom_crc32_le). */
#define KILN_CRC32_INIT 0xFFFFFFFFu

/**
 * @brief CRC32 (Espressif variant) of @p len bytes, continuing from @p crc.
 *
 * Chainable: kiln_crc32(kiln_crc32(KILN_CRC32_INIT, a, n), b, m) equals the CRC
 * of a followed by b. Same semantics as esp_rom_crc32_le(crc, data, len).
 *
 * @param crc  KILN_CRC32_INIT to start, or a previous result to continue.
 * @param data the bytes; may be NULL when @p len is 0.
 * @param len  number of bytes.
 * @return the CRC32.
 */
uint32_t kiln_crc32(uint32_t crc, const void *data, size_t len);

#ifdef __cplusplus
}
#endif
