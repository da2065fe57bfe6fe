/*
 * ESP32 image format (formats.md §4): a 24-byte esp_image_header_t, segments of
 * {u32 load_addr, u32 data_len, data}, zero padding to 15 mod 16, the checksum byte
 * (0xEF xor every data byte), then SHA-256 of everything before it (hash_appended = 1).
 * The images are what `esptool image-info` and a second-stage bootloader accept; their
 * code never runs (the virtual board runs the host executable named by app_elf_sha256),
 * and on silicon the entry is a branch-to-self.
 */
#include "kiln_image.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

static const kiln_chip_t CHIPS[] = {
    /* name, id, bootloader offset, freq, nibble, min rev, max rev, xtensa, DROM, IRAM, IROM, boot DRAM, boot IRAM */
    {"esp32", 0, 0x1000, "40m", 0x0, 0, 399, true, 0x3F400020, 0x40080000, 0x400D0020, 0x3FFF0030, 0x40080400},
    {"esp32s3", 9, 0x0, "80m", 0xF, 0, 99, true, 0x3C020020, 0x40374000, 0x42000020, 0x3FCE2700, 0x403C8700},
    {"esp32c3", 5, 0x0, "80m", 0xF, 3, 199, false, 0x3C020020, 0x40380000, 0x42000020, 0x3FCD5820, 0x403CC710},
};

const kiln_chip_t *kiln_chip_find(const char *name)
{
    for (size_t i = 0; i < sizeof(CHIPS) / sizeof(CHIPS[0]); i++) {
        if (strcmp(CHIPS[i].name, name) == 0) {
            return &CHIPS[i];
        }
    }
    return NULL;
}

typedef struct {
    uint32_t addr;
    const uint8_t *data;
    size_t len; /* a multiple of 4 */
} segment_t;

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static void put_le16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

/* Copies a NUL-terminated string into a fixed field (at most size - 1 chars, zero-filled). */
static void put_str(uint8_t *field, size_t size, const char *s)
{
    size_t n = strlen(s);
    memcpy(field, s, n < size ? n : size - 1);
}

static uint8_t *build(const kiln_image_params_t *p, uint32_t entry, const segment_t *segs, size_t nsegs,
                      size_t *out_len)
{
    size_t total = 24;
    for (size_t i = 0; i < nsegs; i++) {
        total += 8 + segs[i].len;
    }
    size_t body = (total | 15u) + 1u; /* padding, then the checksum byte ends at 15 mod 16 */
    uint8_t *img = calloc(body + 32u, 1);
    if (img == NULL) {
        return NULL;
    }
    /* esp_image_header_t (esp_app_format.h) */
    img[0] = 0xE9;
    img[1] = (uint8_t)nsegs;
    img[2] = p->flash_mode;
    img[3] = (uint8_t)(p->flash_size_nibble << 4 | p->chip->flash_freq_nibble);
    put_le32(img + 4, entry);
    img[8] = 0xEE; /* wp_pin: disabled */
    put_le16(img + 12, p->chip->chip_id);
    img[14] = (uint8_t)(p->chip->min_rev_full / 100u); /* legacy min_chip_rev: the major revision */
    put_le16(img + 15, p->chip->min_rev_full);
    put_le16(img + 17, p->chip->max_rev_full);
    img[23] = 1; /* hash_appended */
    size_t at = 24;
    uint8_t checksum = 0xEF;
    for (size_t i = 0; i < nsegs; i++) {
        put_le32(img + at, segs[i].addr);
        put_le32(img + at + 4, (uint32_t)segs[i].len);
        if (segs[i].data != NULL) {
            memcpy(img + at + 8, segs[i].data, segs[i].len);
        }
        for (size_t j = 0; j < segs[i].len; j++) {
            checksum ^= img[at + 8 + j];
        }
        at += 8 + segs[i].len;
    }
    img[body - 1] = checksum;
    unsigned int md_len = 0;
    if (EVP_Digest(img, body, img + body, &md_len, EVP_sha256(), NULL) != 1 || md_len != 32) {
        free(img);
        return NULL;
    }
    *out_len = body + 32u;
    return img;
}

/* The entry code: a branch to itself (Xtensa `j .` = 06 ff ff; RISC-V `j .` = 0x0000006f). */
static void entry_code(const kiln_chip_t *chip, uint8_t code[4])
{
    static const uint8_t XTENSA[4] = {0x06, 0xFF, 0xFF, 0x00};
    static const uint8_t RISCV[4] = {0x6F, 0x00, 0x00, 0x00};
    memcpy(code, chip->xtensa ? XTENSA : RISCV, 4);
}

#define NOTE "Kiln host build: this image stands for the host executable whose SHA-256 is app_elf_sha256."

uint8_t *kiln_image_app(const kiln_image_params_t *p, const kiln_app_desc_t *desc, size_t *len)
{
    const kiln_chip_t *chip = p->chip;
    /* DROM: esp_app_desc_t (256 bytes, esp_app_desc.h), then a note as .rodata. */
    uint8_t drom[256 + ((sizeof(NOTE) + 3u) & ~3u)];
    memset(drom, 0, sizeof(drom));
    put_le32(drom + 0, 0xABCD5432);                  /* magic_word */
    put_le32(drom + 4, 0);                           /* secure_version */
    put_str(drom + 16, 32, desc->version);
    put_str(drom + 48, 32, desc->project_name);
    put_str(drom + 80, 16, desc->time);
    put_str(drom + 96, 16, desc->date);
    put_str(drom + 112, 32, desc->idf_ver);
    memcpy(drom + 144, desc->elf_sha256, 32);
    put_le16(drom + 176, 0);                         /* min_efuse_blk_rev_full */
    put_le16(drom + 178, 99);                        /* max_efuse_blk_rev_full (IDF v5 default 0.99) */
    drom[180] = 16;                                  /* mmu_page_size: log2(64 KiB) */
    memcpy(drom + 256, NOTE, sizeof(NOTE));

    uint8_t iram[4];
    entry_code(chip, iram);

    /* IROM's data must start at a file offset = its address mod 64 KiB (the app partition is
     * 64 KiB-aligned): a PADDING segment (load address 0, as esptool elf2image adds) fills the gap. */
    static const uint8_t irom[16] = "kiln host build";
    size_t before_pad = 24 + 8 + sizeof(drom) + 8 + sizeof(iram);
    size_t irom_data_at = (before_pad + 16u + 0xFFFFu) & ~(size_t)0xFFFFu;
    irom_data_at += chip->app_irom & 0xFFFFu;
    size_t pad_len = irom_data_at - before_pad - 16u;
    segment_t segs[] = {
        {chip->app_drom, drom, sizeof(drom)},
        {chip->app_iram, iram, sizeof(iram)},
        {0, NULL, pad_len},
        {chip->app_irom, irom, sizeof(irom)},
    };
    return build(p, chip->app_iram, segs, 4, len);
}

uint8_t *kiln_image_bootloader(const kiln_image_params_t *p, const char *idf_ver, const char *date_time,
                               size_t *len)
{
    /* DRAM: esp_bootloader_desc_t (80 bytes: magic byte 0x50, reserved[3], u32 version,
     * idf_ver[32], date_time[24], reserved[16]; IDF esp_bootloader_desc.h, esptool
     * _parse_bootloader_info), padded with .data. */
    uint8_t dram[96];
    memset(dram, 0, sizeof(dram));
    dram[0] = 0x50;
    put_le32(dram + 4, 1); /* CONFIG_BOOTLOADER_PROJECT_VER */
    put_str(dram + 8, 32, idf_ver);
    put_str(dram + 40, 24, date_time);
    uint8_t iram[4];
    entry_code(p->chip, iram);
    segment_t segs[] = {
        {p->chip->boot_dram, dram, sizeof(dram)},
        {p->chip->boot_iram, iram, sizeof(iram)},
    };
    return build(p, p->chip->boot_iram, segs, 2, len);
}
