/*
 * Partition table CSV -> binary, byte-identical to ESP-IDF v5's gen_esp32part.py
 * (formats.md §3): 32-byte entries {magic AA 50, type, subtype, u32 offset, u32 size,
 * label[16], u32 flags}, the MD5 row (EB EB, 14 x FF, MD5 of the entries), 0xFF
 * padding to 0xC00 bytes.
 */
#define _POSIX_C_SOURCE 200809L
#include <ctype.h>
#include <openssl/evp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kiln_image.h"

typedef struct {
    const char *name;
    uint8_t value;
} keyword_t;

static const keyword_t TYPES[] = {{"app", 0x00}, {"data", 0x01}, {"bootloader", 0x02}, {"partition_table", 0x03}};
static const keyword_t DATA_SUBTYPES[] = {
    {"ota", 0x00},   {"phy", 0x01},       {"nvs", 0x02},      {"coredump", 0x03}, {"nvs_keys", 0x04},
    {"efuse", 0x05}, {"undefined", 0x06}, {"esphttpd", 0x80}, {"fat", 0x81},      {"spiffs", 0x82},
    {"littlefs", 0x83},
};

static bool fail(char *err, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, size, fmt, ap);
    va_end(ap);
    return false;
}

/* int(v, 0) with k/K/m/M suffixes, as parse_int() in gen_esp32part.py. */
static bool parse_number(const char *s, uint32_t *out)
{
    size_t n = strlen(s);
    unsigned long long mult = 1;
    if (n > 0 && (s[n - 1] == 'k' || s[n - 1] == 'K')) {
        mult = 1024;
        n--;
    } else if (n > 0 && (s[n - 1] == 'm' || s[n - 1] == 'M')) {
        mult = 1024 * 1024;
        n--;
    }
    if (n == 0 || n > 20) {
        return false;
    }
    char buf[24];
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *end = NULL;
    unsigned long long v = strtoull(buf, &end, 0);
    if (*end != '\0' || !isdigit((unsigned char)buf[0]) || v * mult > UINT32_MAX) {
        return false;
    }
    *out = (uint32_t)(v * mult);
    return true;
}

static bool parse_keyword(const char *s, const keyword_t *kw, size_t count, uint8_t *out)
{
    uint32_t v = 0;
    if (parse_number(s, &v)) {
        if (v > 0xFF) {
            return false;
        }
        *out = (uint8_t)v;
        return true;
    }
    for (size_t i = 0; i < count; i++) {
        if (strcasecmp(s, kw[i].name) == 0) {
            *out = kw[i].value;
            return true;
        }
    }
    return false;
}

static bool parse_subtype(uint8_t type, const char *s, uint8_t *out)
{
    if (type == 0x00) {
        static const keyword_t APP[] = {{"factory", 0x00}, {"test", 0x20}};
        if (strncasecmp(s, "ota_", 4) == 0 && isdigit((unsigned char)s[4])) {
            int slot = atoi(s + 4);
            if (slot > 15) {
                return false;
            }
            *out = (uint8_t)(0x10 + slot);
            return true;
        }
        return parse_keyword(s, APP, 2, out);
    }
    if (type == 0x01) {
        return parse_keyword(s, DATA_SUBTYPES, sizeof(DATA_SUBTYPES) / sizeof(DATA_SUBTYPES[0]), out);
    }
    return parse_keyword(s, NULL, 0, out);
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

/* One CSV row into @p p; offset 0 with *has_offset false means "after the previous one". */
static bool parse_row(char *line, kiln_partition_t *p, bool *has_offset, char *err, size_t err_size)
{
    char *fields[6] = {"", "", "", "", "", ""};
    size_t n = 0;
    for (char *f = line; n < 6; n++) {
        char *comma = strchr(f, ',');
        if (comma != NULL) {
            *comma = '\0';
        }
        fields[n] = trim(f);
        if (comma == NULL) {
            n++;
            break;
        }
        f = comma + 1;
    }
    memset(p, 0, sizeof(*p));
    if (fields[0][0] == '\0' || strlen(fields[0]) > 16) {
        return fail(err, err_size, "bad name '%s'", fields[0]);
    }
    snprintf(p->name, sizeof(p->name), "%s", fields[0]);
    if (fields[1][0] == '\0' || !parse_keyword(fields[1], TYPES, 4, &p->type)) {
        return fail(err, err_size, "bad type '%s'", fields[1]);
    }
    if (fields[2][0] == '\0') {
        if (p->type == 0x00) {
            return fail(err, err_size, "app partition cannot have an empty subtype");
        }
        p->subtype = 0x06; /* undefined */
    } else if (!parse_subtype(p->type, fields[2], &p->subtype)) {
        return fail(err, err_size, "bad subtype '%s'", fields[2]);
    }
    *has_offset = fields[3][0] != '\0';
    if (*has_offset && !parse_number(fields[3], &p->offset)) {
        return fail(err, err_size, "bad offset '%s'", fields[3]);
    }
    if (fields[4][0] == '\0' || !parse_number(fields[4], &p->size)) {
        return fail(err, err_size, "bad size '%s'", fields[4]);
    }
    for (char *save = NULL, *flag = strtok_r(fields[5], ":", &save); flag != NULL; flag = strtok_r(NULL, ":", &save)) {
        flag = trim(flag);
        if (strcmp(flag, "encrypted") == 0) {
            p->flags |= 1u;
        } else if (strcmp(flag, "readonly") == 0) {
            p->flags |= 2u;
        } else if (flag[0] != '\0') {
            return fail(err, err_size, "unknown flag '%s'", flag);
        }
    }
    return true;
}

bool kiln_pt_parse_csv(const char *csv, uint32_t table_offset, kiln_partition_table_t *table, char *err,
                       size_t err_size)
{
    memset(table, 0, sizeof(*table));
    uint64_t last_end = (uint64_t)table_offset + 0x1000u; /* the table takes one 4 KiB sector */
    size_t line_no = 0;
    for (const char *p = csv; *p != '\0';) {
        size_t n = strcspn(p, "\r\n");
        char line[512];
        line_no++;
        if (n >= sizeof(line)) {
            return fail(err, err_size, "line %zu: too long", line_no);
        }
        memcpy(line, p, n);
        line[n] = '\0';
        p += n;
        p += p[0] == '\r' && p[1] == '\n' ? 2 : (p[0] != '\0' ? 1 : 0);
        char *row = trim(line);
        if (row[0] == '\0' || row[0] == '#') {
            continue;
        }
        if (table->count == KILN_PT_MAX) {
            return fail(err, err_size, "line %zu: more than %d partitions", line_no, KILN_PT_MAX);
        }
        kiln_partition_t *e = &table->parts[table->count];
        bool has_offset = false;
        char why[128];
        if (!parse_row(row, e, &has_offset, why, sizeof(why))) {
            return fail(err, err_size, "line %zu: %s", line_no, why);
        }
        if (!has_offset) {
            uint64_t align = e->type == 0x00 ? 0x10000u : 0x1000u;
            last_end = (last_end + align - 1u) / align * align;
            e->offset = (uint32_t)last_end;
        } else if (e->offset < last_end) {
            return fail(err, err_size, "line %zu: offset 0x%x overlaps the previous partition or the table",
                        line_no, (unsigned)e->offset);
        }
        uint32_t align = e->type == 0x00 ? 0x10000u : 0x1000u;
        if (e->offset % align != 0) {
            return fail(err, err_size, "line %zu: offset 0x%x is not aligned to 0x%x", line_no,
                        (unsigned)e->offset, (unsigned)align);
        }
        if (e->type == 0x00 && e->size % 0x1000u != 0) {
            return fail(err, err_size, "line %zu: app size 0x%x is not 4 KiB-aligned", line_no, (unsigned)e->size);
        }
        if (e->type == 0x01 && e->subtype == 0x00 && e->size != 0x2000u) {
            return fail(err, err_size, "line %zu: otadata partition must have size = 0x2000", line_no);
        }
        for (size_t i = 0; i < table->count; i++) {
            if (strcmp(table->parts[i].name, e->name) == 0) {
                return fail(err, err_size, "line %zu: partition names must be unique ('%s')", line_no, e->name);
            }
            if (e->type == 0x01 && e->subtype == 0x00 && table->parts[i].type == 0x01 && table->parts[i].subtype == 0x00) {
                return fail(err, err_size, "line %zu: found multiple otadata partitions", line_no);
            }
        }
        last_end = (uint64_t)e->offset + e->size;
        table->count++;
    }
    return true;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

bool kiln_pt_binary(const kiln_partition_table_t *table, uint8_t out[KILN_PT_TABLE_SIZE])
{
    memset(out, 0xFF, KILN_PT_TABLE_SIZE);
    size_t at = 0;
    for (size_t i = 0; i < table->count; i++, at += 32) {
        const kiln_partition_t *p = &table->parts[i];
        uint8_t *e = out + at;
        e[0] = 0xAA;
        e[1] = 0x50;
        e[2] = p->type;
        e[3] = p->subtype;
        put_le32(e + 4, p->offset);
        put_le32(e + 8, p->size);
        memset(e + 12, 0, 16);
        memcpy(e + 12, p->name, strlen(p->name)); /* up to 16 bytes, no NUL needed (struct '16s') */
        put_le32(e + 28, p->flags);
    }
    /* MD5 row: EB EB, 14 x FF, MD5 of the entries. */
    if (at + 32u > KILN_PT_TABLE_SIZE - 1u) {
        return false;
    }
    out[at] = 0xEB;
    out[at + 1] = 0xEB;
    unsigned int md_len = 0;
    return EVP_Digest(out, at, out + at + 16, &md_len, EVP_md5(), NULL) == 1 && md_len == 16;
}

const kiln_partition_t *kiln_pt_find(const kiln_partition_table_t *table, uint8_t type, uint8_t subtype)
{
    for (size_t i = 0; i < table->count; i++) {
        if (table->parts[i].type == type && table->parts[i].subtype == subtype) {
            return &table->parts[i];
        }
    }
    return NULL;
}
