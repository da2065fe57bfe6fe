/*
 * kiln-image-gen: gives the host build the artefacts of an ESP-IDF build, so that
 * `kiln flash`, esptool and the virtual board treat it exactly like one. In the
 * output directory (formats.md §3-§5):
 *   <project>.bin                        app image; esp_app_desc_t.app_elf_sha256 =
 *                                        SHA-256 of the host executable (--app)
 *   bootloader/bootloader.bin            second-stage bootloader image
 *   partition_table/partition-table.bin  from the CSV, as gen_esp32part.py makes it
 *   ota_data_initial.bin                 the otadata partition, all 0xFF
 *   flasher_args.json, flash_args        as IDF v5's esptool_py component writes them
 *
 *   kiln-image-gen --chip esp32 --app kiln-device --project kiln_firmware --version 0.1.0
 *                  --partitions partitions.csv --out DIR [--flash-mode dio] [--flash-size 4MB]
 *   kiln-image-gen --partition-table CSV OUT      (the table only)
 * The compile time in esp_app_desc_t is SOURCE_DATE_EPOCH if set, else the executable's mtime (UTC).
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "kiln_image.h"

#define PARTITION_TABLE_OFFSET 0x8000u /* CONFIG_PARTITION_TABLE_OFFSET default */

static int die(const char *fmt, const char *arg)
{
    fprintf(stderr, "kiln-image-gen: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return 1;
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t cap = 0;
    *len = 0;
    for (;;) {
        if (*len == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *grown = realloc(buf, cap + 1);
            if (grown == NULL) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = grown;
        }
        size_t n = fread(buf + *len, 1, cap - *len, f);
        *len += n;
        if (n == 0) {
            break;
        }
    }
    bool ok = !ferror(f);
    fclose(f);
    if (!ok) {
        free(buf);
        return NULL;
    }
    buf[*len] = '\0';
    return buf;
}

/* mkdir -p of the directories in @p path before its last '/'. */
static bool make_parents(char *path)
{
    for (char *p = strchr(path + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
        *p = '\0';
        bool ok = mkdir(path, 0777) == 0 || errno == EEXIST;
        *p = '/';
        if (!ok) {
            return false;
        }
    }
    return true;
}

static bool write_file(const char *dir, const char *name, const void *data, size_t len)
{
    char path[4096];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) || !make_parents(path)) {
        return false;
    }
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        return false;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    return (fclose(f) == 0) && ok;
}

static bool partition_table(const char *csv_path, kiln_partition_table_t *table, uint8_t bin[KILN_PT_TABLE_SIZE])
{
    size_t len = 0;
    char *csv = (char *)read_file(csv_path, &len);
    if (csv == NULL) {
        die("cannot read %s", csv_path);
        return false;
    }
    char err[256];
    bool ok = kiln_pt_parse_csv(csv, PARTITION_TABLE_OFFSET, table, err, sizeof(err));
    free(csv);
    if (!ok) {
        fprintf(stderr, "kiln-image-gen: %s: %s\n", csv_path, err);
        return false;
    }
    return kiln_pt_binary(table, bin);
}

static int flash_size_nibble(const char *s)
{
    static const char *SIZES[] = {"1MB", "2MB", "4MB", "8MB", "16MB"};
    for (int i = 0; i < 5; i++) {
        if (strcmp(s, SIZES[i]) == 0) {
            return i;
        }
    }
    return -1;
}

static int flash_mode_value(const char *s)
{
    static const char *MODES[] = {"qio", "qout", "dio", "dout"};
    for (int i = 0; i < 4; i++) {
        if (strcmp(s, MODES[i]) == 0) {
            return i;
        }
    }
    return -1;
}

typedef struct {
    const char *name;
    uint32_t offset;
    const char *file;
} flash_file_t;

/* flasher_args.json in the shape of IDF v5's components/esptool_py/flasher_args.json.in. */
static bool write_flasher_args(const char *dir, const char *chip, const char *mode, const char *size,
                               const char *freq, const flash_file_t *files, size_t n)
{
    char json[4096];
    size_t at = 0;
#define OUT(...) at += (size_t)snprintf(json + at, at < sizeof(json) ? sizeof(json) - at : 0, __VA_ARGS__)
    OUT("{\n    \"write_flash_args\" : [ \"--flash_mode\", \"%s\",\n", mode);
    OUT("                           \"--flash_size\", \"%s\",\n", size);
    OUT("                           \"--flash_freq\", \"%s\" ],\n", freq);
    OUT("    \"flash_settings\" : {\n        \"flash_mode\": \"%s\",\n        \"flash_size\": \"%s\",\n"
        "        \"flash_freq\": \"%s\"\n    },\n", mode, size, freq);
    OUT("    \"flash_files\" : {\n");
    for (size_t i = 0; i < n; i++) {
        OUT("        \"0x%x\" : \"%s\"%s\n", (unsigned)files[i].offset, files[i].file, i + 1 < n ? "," : "");
    }
    OUT("    },\n");
    for (size_t i = 0; i < n; i++) {
        OUT("    \"%s\" : { \"offset\" : \"0x%x\", \"file\" : \"%s\", \"encrypted\" : \"false\" },\n", files[i].name,
            (unsigned)files[i].offset, files[i].file);
    }
    OUT("    \"extra_esptool_args\" : {\n        \"after\"  : \"hard_reset\",\n        \"before\" : \"default_reset\",\n"
        "        \"stub\"   : true,\n        \"chip\"   : \"%s\"\n    }\n}\n", chip);
    if (at >= sizeof(json)) {
        return false;
    }
    char args[1024];
    size_t a = (size_t)snprintf(args, sizeof(args), "--flash_mode %s --flash_freq %s --flash_size %s\n", mode, freq, size);
    for (size_t i = 0; i < n && a < sizeof(args); i++) {
        a += (size_t)snprintf(args + a, sizeof(args) - a, "0x%x %s\n", (unsigned)files[i].offset, files[i].file);
    }
#undef OUT
    return a < sizeof(args) && write_file(dir, "flasher_args.json", json, at) && write_file(dir, "flash_args", args, a);
}

typedef struct {
    const char *chip, *app, *project, *version, *partitions, *out, *mode, *size, *freq;
} options_t;

static int generate(const options_t *o)
{
    const kiln_chip_t *chip = kiln_chip_find(o->chip);
    int mode = flash_mode_value(o->mode);
    int size = flash_size_nibble(o->size);
    if (chip == NULL) {
        return die("unknown chip '%s' (esp32, esp32s3, esp32c3)", o->chip);
    }
    if (mode < 0 || size < 0) {
        return die("bad --flash-mode or --flash-size (%s)", mode < 0 ? o->mode : o->size);
    }
    const char *freq = o->freq != NULL ? o->freq : chip->flash_freq;
    if (strlen(o->project) > 31 || strlen(o->version) > 31) {
        return die("project name and version must be 1..31 characters (%s)", o->project);
    }
    static kiln_partition_table_t table;
    uint8_t pt[KILN_PT_TABLE_SIZE];
    if (!partition_table(o->partitions, &table, pt)) {
        return 1;
    }
    const kiln_partition_t *app_part = kiln_pt_find(&table, 0x00, 0x00); /* --partition-boot-default */
    app_part = app_part != NULL ? app_part : kiln_pt_find(&table, 0x00, 0x10);
    const kiln_partition_t *otadata = kiln_pt_find(&table, 0x01, 0x00);
    if (app_part == NULL) {
        return die("%s has no factory or ota_0 app partition", o->partitions);
    }
    for (size_t i = 0; i < table.count; i++) { /* gen_esp32part.py --flash-size */
        if ((uint64_t)table.parts[i].offset + table.parts[i].size > (1ull << 20) << size) {
            return die("the partitions do not fit in %s of flash", o->size);
        }
    }

    kiln_app_desc_t desc = {.project_name = o->project, .version = o->version, .idf_ver = "kiln-host"};
    size_t exe_len = 0;
    uint8_t *exe = read_file(o->app, &exe_len);
    unsigned int md_len = 0;
    if (exe == NULL || EVP_Digest(exe, exe_len, desc.elf_sha256, &md_len, EVP_sha256(), NULL) != 1) {
        free(exe);
        return die("cannot read or hash %s", o->app);
    }
    free(exe);
    struct stat st;
    const char *epoch = getenv("SOURCE_DATE_EPOCH");
    time_t when = epoch != NULL ? (time_t)strtoll(epoch, NULL, 10) : (stat(o->app, &st) == 0 ? st.st_mtime : 0);
    struct tm tm;
    gmtime_r(&when, &tm);
    char date[16], hms[16], date_time[32];
    strftime(date, sizeof(date), "%b %e %Y", &tm); /* __DATE__ */
    strftime(hms, sizeof(hms), "%H:%M:%S", &tm);   /* __TIME__ */
    snprintf(date_time, sizeof(date_time), "%s %s", date, hms);
    desc.date = date;
    desc.time = hms;

    kiln_image_params_t params = {.chip = chip, .flash_mode = (uint8_t)mode, .flash_size_nibble = (uint8_t)size};
    size_t app_len = 0, boot_len = 0;
    uint8_t *app = kiln_image_app(&params, &desc, &app_len);
    uint8_t *boot = kiln_image_bootloader(&params, desc.idf_ver, date_time, &boot_len);
    char app_file[64];
    snprintf(app_file, sizeof(app_file), "%s.bin", o->project);
    bool ok = app != NULL && boot != NULL && write_file(o->out, app_file, app, app_len) &&
              write_file(o->out, "bootloader/bootloader.bin", boot, boot_len) &&
              write_file(o->out, "partition_table/partition-table.bin", pt, sizeof(pt));
    free(app);
    free(boot);
    flash_file_t files[4] = {
        {"bootloader", chip->bootloader_offset, "bootloader/bootloader.bin"},
        {"app", app_part->offset, app_file},
        {"partition-table", PARTITION_TABLE_OFFSET, "partition_table/partition-table.bin"},
        {"otadata", otadata != NULL ? otadata->offset : 0, "ota_data_initial.bin"},
    };
    if (ok && otadata != NULL) {
        uint8_t *blank = malloc(otadata->size);
        ok = blank != NULL;
        if (ok) {
            memset(blank, 0xFF, otadata->size);
            ok = write_file(o->out, "ota_data_initial.bin", blank, otadata->size);
        }
        free(blank);
    }
    ok = ok && write_flasher_args(o->out, chip->name, o->mode, o->size, freq, files, otadata != NULL ? 4 : 3);
    return ok ? 0 : die("writing into %s failed", o->out);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--partition-table") == 0) {
        static kiln_partition_table_t table;
        uint8_t pt[KILN_PT_TABLE_SIZE];
        FILE *f = NULL;
        bool ok = partition_table(argv[2], &table, pt) && (f = fopen(argv[3], "wb")) != NULL &&
                  fwrite(pt, 1, sizeof(pt), f) == sizeof(pt);
        ok = (f == NULL || fclose(f) == 0) && ok;
        return ok ? 0 : 1;
    }
    options_t o = {.project = "kiln_firmware", .mode = "dio", .size = "4MB"};
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *a = argv[i], *v = argv[i + 1];
        if (strcmp(a, "--chip") == 0) o.chip = v;
        else if (strcmp(a, "--app") == 0) o.app = v;
        else if (strcmp(a, "--project") == 0) o.project = v;
        else if (strcmp(a, "--version") == 0) o.version = v;
        else if (strcmp(a, "--partitions") == 0) o.partitions = v;
        else if (strcmp(a, "--out") == 0) o.out = v;
        else if (strcmp(a, "--flash-mode") == 0) o.mode = v;
        else if (strcmp(a, "--flash-size") == 0) o.size = v;
        else if (strcmp(a, "--flash-freq") == 0) o.freq = v;
        else return die("unknown option %s", a);
    }
    if (argc % 2 == 0 || o.chip == NULL || o.app == NULL || o.version == NULL || o.partitions == NULL || o.out == NULL) {
        return die("%s", "usage: kiln-image-gen --chip C --app EXE --version V --partitions CSV --out DIR "
                         "[--project NAME] [--flash-mode dio] [--flash-size 4MB] [--flash-freq F]\n"
                         "       kiln-image-gen --partition-table CSV OUT");
    }
    return generate(&o);
}
