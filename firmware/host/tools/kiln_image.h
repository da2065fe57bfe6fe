/*
 * ESP-IDF build artefacts for the host build (kiln-image-gen): the app and
 * bootloader images in the ESP32 image format, and the partition table binary.
 * Formats: shared/reference/formats.md §3 (partition table, gen_esp32part.py) and
 * §4 (esptool firmware-image-format.rst, IDF esp_app_format.h / esp_app_desc.h).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- chips -------------------------------------------------------------------------- */

typedef struct {
    const char *name;             /*!< IDF target: esp32, esp32s3, esp32c3 */
    uint16_t chip_id;             /*!< esp_chip_id_t / esptool IMAGE_CHIP_ID */
    uint32_t bootloader_offset;   /*!< ESP_ROM_BOOTLOADER_OFFSET_FLASH */
    const char *flash_freq;       /*!< IDF default: "40m" (esp32), "80m" (s3, c3) */
    uint8_t flash_freq_nibble;    /*!< header byte 3, low nibble */
    uint16_t min_rev_full;        /*!< IDF v5 defaults (CONFIG_<CHIP>_REV_MIN_FULL) */
    uint16_t max_rev_full;
    bool xtensa;                  /*!< else RISC-V */
    uint32_t app_drom, app_iram, app_irom;   /*!< load addresses inside esptool's MEMORY_MAP */
    uint32_t boot_dram, boot_iram;
} kiln_chip_t;

/** @return the chip called @p name, or NULL. */
const kiln_chip_t *kiln_chip_find(const char *name);

/* --- images ------------------------------------------------------------------------- */

typedef struct {
    const kiln_chip_t *chip;
    uint8_t flash_mode;     /*!< 0 QIO, 1 QOUT, 2 DIO, 3 DOUT */
    uint8_t flash_size_nibble; /*!< 0 1MB, 1 2MB, 2 4MB, 3 8MB, 4 16MB */
} kiln_image_params_t;

typedef struct {
    const char *project_name; /*!< <= 31 chars */
    const char *version;      /*!< <= 31 chars */
    const char *time;         /*!< "hh:mm:ss" (__TIME__) */
    const char *date;         /*!< "Mmm dd yyyy" (__DATE__) */
    const char *idf_ver;      /*!< <= 31 chars */
    uint8_t elf_sha256[32];   /*!< app_elf_sha256 */
} kiln_app_desc_t;

/**
 * @brief The app image: segments DROM (esp_app_desc_t first, so at file offset 0x20),
 *        IRAM (the entry: a branch-to-self), PADDING (load address 0, so that the IROM
 *        segment's data sits at a file offset congruent to its address mod 64 KiB, as the
 *        MMU maps it), IROM; checksum; SHA-256 appended.
 * @return the image (malloc'd, *len set), or NULL if out of memory.
 */
uint8_t *kiln_image_app(const kiln_image_params_t *p, const kiln_app_desc_t *desc, size_t *len);

/**
 * @brief The second-stage bootloader image: DRAM (esp_bootloader_desc_t first) and IRAM
 *        (the entry); checksum; SHA-256 appended.
 * @return the image (malloc'd, *len set), or NULL if out of memory.
 */
uint8_t *kiln_image_bootloader(const kiln_image_params_t *p, const char *idf_ver, const char *date_time,
                               size_t *len);

/* --- partition table ---------------------------------------------------------------- */

#define KILN_PT_TABLE_SIZE 0xC00u /*!< the binary: entries, MD5 row, 0xFF padding */
#define KILN_PT_MAX 95

typedef struct {
    char name[17];
    uint8_t type, subtype;
    uint32_t offset, size;
    uint32_t flags;
} kiln_partition_t;

typedef struct {
    kiln_partition_t parts[KILN_PT_MAX];
    size_t count;
} kiln_partition_table_t;

/**
 * @brief Parses a partition CSV as gen_esp32part.py (IDF v5) does: blank offsets follow the
 *        previous partition, aligned to 0x10000 for apps and 0x1000 for data; sizes take K/M
 *        suffixes; flags encrypted, readonly. Checks alignment, overlaps and otadata's size.
 * @param table_offset CONFIG_PARTITION_TABLE_OFFSET (0x8000)
 * @return true, or false with a message in @p err.
 */
bool kiln_pt_parse_csv(const char *csv, uint32_t table_offset, kiln_partition_table_t *table, char *err,
                       size_t err_size);

/** @brief The 0xC00-byte binary: 32-byte entries, the MD5 row, 0xFF padding. */
bool kiln_pt_binary(const kiln_partition_table_t *table, uint8_t out[KILN_PT_TABLE_SIZE]);

/** @return the first partition of @p type / @p subtype, or NULL. */
const kiln_partition_t *kiln_pt_find(const kiln_partition_table_t *table, uint8_t type, uint8_t subtype);
