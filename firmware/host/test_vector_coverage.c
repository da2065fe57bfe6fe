/*
 * SPEC.md §3: both suites load every file in protocol/vectors/. This test compares
 * the directory listing with the files the C tests declare they read
 * (kiln_add_test(... VECTORS ...) in CMakeLists.txt, passed in as KILN_CONSUMED_VECTORS):
 * a new vector file no C test reads fails here, and so does a declared file that is gone.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_test_support.h"

static const char CONSUMED[] = KILN_CONSUMED_VECTORS;

static int is_consumed(const char *file)
{
    size_t n = strlen(file);
    for (const char *p = CONSUMED; *p != '\0';) {
        const char *end = strchr(p, ',');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        if (len == n && strncmp(p, file, n) == 0) return 1;
        p += len + (end != NULL ? 1 : 0);
    }
    return 0;
}

static int has_json_suffix(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".json") == 0;
}

static void test_every_vector_file_is_read_by_a_c_test(void **state)
{
    (void)state;
    DIR *dir = opendir(KILN_VECTORS_DIR);
    if (dir == NULL) fail_msg("cannot list %s", KILN_VECTORS_DIR);
    int files = 0;
    int unread = 0;
    for (struct dirent *e = readdir(dir); e != NULL; e = readdir(dir)) {
        if (!has_json_suffix(e->d_name)) continue;
        files++;
        if (!is_consumed(e->d_name)) {
            print_error("protocol/vectors/%s is read by no C test: add it to a kiln_add_test(... VECTORS ...)\n",
                        e->d_name);
            unread++;
        }
    }
    closedir(dir);
    assert_true(files > 0);
    assert_int_equal(unread, 0);
}

static void test_every_declared_vector_file_exists(void **state)
{
    (void)state;
    char list[sizeof(CONSUMED)];
    memcpy(list, CONSUMED, sizeof(CONSUMED));
    int missing = 0;
    for (char *name = strtok(list, ","); name != NULL; name = strtok(NULL, ",")) {
        char path[1024];
        snprintf(path, sizeof(path), "%s/%s", KILN_VECTORS_DIR, name);
        FILE *f = fopen(path, "rb");
        if (f == NULL) {
            print_error("%s is declared as read by a C test but does not exist\n", path);
            missing++;
        } else {
            fclose(f);
        }
    }
    assert_int_equal(missing, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_vector_file_is_read_by_a_c_test),
        cmocka_unit_test(test_every_declared_vector_file_exists),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
