/* kiln_crc32 against crc32.json, the published check values, and chaining. */
#include <stdlib.h>
#include <string.h>

#include "kiln_crc32.h"
#include "kiln_test_support.h"

static uint32_t parse_crc(const char *text)
{
    assert_int_equal(strncmp(text, "0x", 2), 0);
    return (uint32_t)strtoul(text + 2, NULL, 16);
}

static void test_vectors_match(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, kt_array(root, "cases"))
    {
        size_t len = 0;
        uint8_t *data = kt_hex(kt_string(c, "hex"), &len);
        uint32_t want = parse_crc(kt_string(c, "crc"));
        uint32_t got = kiln_crc32(KILN_CRC32_INIT, data, len);
        if (got != want) {
            fail_msg("%s: got 0x%08x, want 0x%08x", kt_string(c, "name"), (unsigned)got, (unsigned)want);
        }
        free(data);
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

/* The anchors SPEC.md and formats.md §0 publish, independent of the vector file. */
static void test_published_check_values(void **state)
{
    (void)state;
    assert_int_equal(kiln_crc32(KILN_CRC32_INIT, "123456789", 9), 0xD202D277u);
    static const uint8_t ota_seq_1[4] = {0x01, 0x00, 0x00, 0x00};
    assert_int_equal(kiln_crc32(KILN_CRC32_INIT, ota_seq_1, 4), 0x4743989Au);
    assert_int_equal(kiln_crc32(KILN_CRC32_INIT, NULL, 0), 0xFFFFFFFFu);
}

/* A CRC computed in pieces (as a stream arrives) equals the one-shot CRC at every split. */
static void test_chaining_at_every_split(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    cJSON_ArrayForEach(c, kt_array(root, "cases"))
    {
        size_t len = 0;
        uint8_t *data = kt_hex(kt_string(c, "hex"), &len);
        uint32_t whole = kiln_crc32(KILN_CRC32_INIT, data, len);
        for (size_t split = 0; split <= len; split++) {
            uint32_t first = kiln_crc32(KILN_CRC32_INIT, data, split);
            assert_int_equal(kiln_crc32(first, data + split, len - split), whole);
        }
        free(data);
    }
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_match),
        cmocka_unit_test(test_published_check_values),
        cmocka_unit_test(test_chaining_at_every_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
