/* kiln_message against messages.json (code AND path for every invalid case),
 * JSON strictness where cJSON alone is lenient, and robustness. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_message.h"
#include "kiln_test_support.h"

static kiln_sender_t sender_of(const cJSON *c)
{
    const cJSON *from = cJSON_GetObjectItemCaseSensitive(c, "from");
    if (from == NULL) return KILN_SENDER_ANY;
    if (strcmp(from->valuestring, "device") == 0) return KILN_SENDER_DEVICE;
    if (strcmp(from->valuestring, "gateway") == 0) return KILN_SENDER_GATEWAY;
    fail_msg("unknown sender %s", from->valuestring);
    return KILN_SENDER_ANY;
}

static void test_valid_messages(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, kt_array(root, "valid"))
    {
        const cJSON *message = kt_member(c, "message");
        char *text = cJSON_PrintUnformatted(message);
        kiln_message_result_t r;
        cJSON *tree = NULL;
        kiln_err_t err = kiln_message_validate(text, strlen(text), KILN_SENDER_ANY, &r, &tree);
        if (err != KILN_OK) fail_msg("%s: %s at \"%s\"", kt_string(c, "name"), kiln_err_name(err), r.path);
        assert_string_equal(r.type, kt_string(message, "type"));
        /* The tree handed back is the message, field for field. */
        assert_true(cJSON_Compare(tree, message, 1));
        cJSON_Delete(tree);
        free(text);
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

static void test_invalid_messages_code_and_path(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, kt_array(root, "invalid"))
    {
        const char *text = kt_string(c, "text");
        const cJSON *want = kt_member(c, "error");
        kiln_message_result_t r;
        kiln_err_t err = kiln_message_validate(text, strlen(text), sender_of(c), &r, NULL);
        assert_int_equal(err, r.code);
        if (strcmp(kiln_err_name(err), kt_string(want, "code")) != 0 || strcmp(r.path, kt_string(want, "path")) != 0) {
            fail_msg("%s: got %s at \"%s\", want %s at \"%s\"", kt_string(c, "name"), kiln_err_name(err), r.path,
                     kt_string(want, "code"), kt_string(want, "path"));
        }
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

typedef struct {
    const char *text;
    const char *code;
    const char *path;
} case_t;

static void run_cases(const case_t *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        kiln_message_result_t r;
        kiln_err_t err = kiln_message_validate(cases[i].text, strlen(cases[i].text), KILN_SENDER_ANY, &r, NULL);
        if (strcmp(kiln_err_name(err), cases[i].code) != 0 || strcmp(r.path, cases[i].path) != 0) {
            fail_msg("%s: got %s at \"%s\", want %s at \"%s\"", cases[i].text, kiln_err_name(err), r.path,
                     cases[i].code, cases[i].path);
        }
    }
}

/* What JSON.parse refuses is INVALID_JSON here too, although cJSON alone would accept it. */
static void test_json_is_parsed_as_strictly_as_javascript(void **state)
{
    (void)state;
    static const case_t CASES[] = {
        {"{\"type\":\"heartbeat\",\"seq\":+1}", "INVALID_JSON", ""},
        {"{\"type\":\"heartbeat\",\"seq\":01}", "INVALID_JSON", ""},
        {"{\"type\":\"heartbeat\",\"seq\":1.}", "INVALID_JSON", ""},
        {"{\"type\":\"heartbeat\",\"seq\":.5}", "INVALID_JSON", ""},
        {"{\"type\":\"heartbeat\",\"seq\":1}x", "INVALID_JSON", ""},
        {"{\"type\":\"heartbeat\",\"seq\":1,}", "INVALID_JSON", ""},
        {"\xEF\xBB\xBF{\"type\":\"heartbeat\",\"seq\":1}", "INVALID_JSON", ""},
        {"\x0b{\"type\":\"heartbeat\",\"seq\":1}", "INVALID_JSON", ""},
        {"{\"type\":\"error\",\"seq\":1,\"code\":\"INTERNAL\",\"message\":\"a\tb\"}", "INVALID_JSON", ""},
        {"{\"type\":\"error\",\"seq\":1,\"code\":\"INTERNAL\",\"message\":\"\\x41\"}", "INVALID_JSON", ""},
        {" {\"type\":\"heartbeat\",\"seq\":1}\r\n\t ", "OK", ""},
    };
    run_cases(CASES, sizeof(CASES) / sizeof(CASES[0]));
}

/* Escapes cJSON cannot hold as JavaScript does keep their length and format outcome. */
static void test_escapes_javascript_keeps(void **state)
{
    (void)state;
    static const case_t CASES[] = {
        /* U+0000 is a control character: BAD_FORMAT for text, not a string cut short. */
        {"{\"type\":\"error\",\"seq\":1,\"code\":\"INTERNAL\",\"message\":\"a\\u0000b\"}", "BAD_FORMAT", "/message"},
        /* Nor is a key with U+0000 taken for "seq" (the path shows U+0001: C strings hold no NUL). */
        {"{\"type\":\"heartbeat\",\"seq\":1,\"seq\\u0000\":1}", "UNKNOWN_FIELD", "/seq\x01"},
        /* A lone surrogate counts as 3 bytes (U+FFFD), as Buffer.byteLength counts it. */
        {"{\"type\":\"hello\",\"seq\":0,\"deviceId\":\"k\\ud800\",\"bootId\":\"00000000\","
         "\"firmware\":{\"name\":\"k\",\"version\":\"1\"},\"chip\":\"esp32\",\"mac\":\"00:00:00:00:00:00\"}",
         "BAD_FORMAT", "/deviceId"},
        {"{\"type\":\"error\",\"seq\":1,\"code\":\"INTERNAL\",\"message\":\"\\udc00\\ud83d\\ude00\"}", "OK", ""},
    };
    run_cases(CASES, sizeof(CASES) / sizeof(CASES[0]));
}

static void test_paths_are_json_pointers(void **state)
{
    (void)state;
    static const case_t CASES[] = {
        {"{\"type\":\"telemetry\",\"seq\":1,\"ts\":1,\"metrics\":{\"a~b\":1}}", "BAD_FORMAT", "/metrics/a~0b"},
        {"{\"type\":\"config\",\"seq\":1,\"x/y\":1}", "UNKNOWN_FIELD", "/x~1y"},
        {"{\"type\":\"telemetry_batch\",\"seq\":1,\"samples\":[{\"seq\":1,\"ts\":1,\"metrics\":{\"a\":1}},"
         "{\"seq\":1,\"ts\":1,\"metrics\":{\"a\":1}, \"z\":0}]}",
         "UNKNOWN_FIELD", "/samples/1/z"},
        {"{\"type\":\"hello\",\"seq\":0}", "MISSING_FIELD", "/deviceId"},
        {"{\"type\":\"heartbeat\",\"seq\":1e400}", "NOT_INTEGER", "/seq"},
        {"{\"type\":\"heartbeat\",\"seq\":-0}", "OK", ""},
        {"{\"type\":\"command\",\"seq\":1,\"id\":\"c\",\"name\":\"n\",\"args\":null}", "WRONG_TYPE", "/args"},
    };
    run_cases(CASES, sizeof(CASES) / sizeof(CASES[0]));
}

/* A key longer than the path buffer is reported truncated, never overflowed. */
static void test_long_unknown_key_path_is_truncated(void **state)
{
    (void)state;
    static char text[2048];
    char key[1000];
    memset(key, 'k', sizeof(key) - 1);
    key[sizeof(key) - 1] = '\0';
    snprintf(text, sizeof(text), "{\"type\":\"heartbeat\",\"seq\":1,\"%s\":1}", key);
    kiln_message_result_t r;
    assert_int_equal(kiln_message_validate(text, strlen(text), KILN_SENDER_ANY, &r, NULL), KILN_ERR_MSG_UNKNOWN_FIELD);
    assert_true(r.path_truncated);
    assert_int_equal(strlen(r.path), KILN_MESSAGE_PATH_MAX - 1);
    assert_int_equal(r.path[0], '/');
}

/* C-side limits (kiln_json.h): stricter than JSON.parse, on purpose. */
static void test_c_side_limits(void **state)
{
    (void)state;
    /* Invalid UTF-8 is not JSON text (the gateway's ws already closes such frames with 1007). */
    static const char BAD_UTF8[] = "{\"type\":\"error\",\"seq\":1,\"code\":\"INTERNAL\",\"message\":\"\xC3\"}";
    kiln_message_result_t r;
    assert_int_equal(kiln_message_validate(BAD_UTF8, strlen(BAD_UTF8), KILN_SENDER_ANY, &r, NULL),
                     KILN_ERR_MSG_INVALID_JSON);
    /* Free-form args nested 31 deep (32 with the root) pass; one level more is refused
     * before cJSON recurses, so hostile nesting cannot overflow a task stack. */
    static char text[4096];
    for (int depth = 31; depth <= 32; depth++) {
        int n = sprintf(text, "{\"type\":\"command\",\"seq\":1,\"id\":\"c\",\"name\":\"n\",\"args\":");
        for (int i = 0; i < depth; i++) n += sprintf(text + n, i + 1 < depth ? "{\"a\":" : "{");
        for (int i = 0; i < depth; i++) text[n++] = '}';
        text[n++] = '}';
        text[n] = '\0';
        kiln_err_t want = depth == 31 ? KILN_OK : KILN_ERR_MSG_INVALID_JSON;
        assert_int_equal(kiln_message_validate(text, (size_t)n, KILN_SENDER_ANY, &r, NULL), want);
    }
    /* Numbers longer than cJSON's 63-character buffer. */
    static const char LONG_NUMBER[] =
        "{\"type\":\"heartbeat\",\"seq\":1.000000000000000000000000000000000000000000000000000000000000000}";
    assert_int_equal(kiln_message_validate(LONG_NUMBER, strlen(LONG_NUMBER), KILN_SENDER_ANY, &r, NULL),
                     KILN_ERR_MSG_INVALID_JSON);
}

static void test_size_limit(void **state)
{
    (void)state;
    static char text[KILN_MESSAGE_MAX_BYTES + 2];
    /* Exactly 65536 bytes is allowed (and here valid); one more is TOO_LARGE before any parsing. */
    int n = sprintf(text, "{\"type\":\"heartbeat\",\"seq\":1}");
    memset(text + n, ' ', sizeof(text) - (size_t)n);
    kiln_message_result_t r;
    assert_int_equal(kiln_message_validate(text, KILN_MESSAGE_MAX_BYTES, KILN_SENDER_ANY, &r, NULL), KILN_OK);
    assert_int_equal(kiln_message_validate(text, KILN_MESSAGE_MAX_BYTES + 1, KILN_SENDER_ANY, &r, NULL),
                     KILN_ERR_MSG_TOO_LARGE);
    assert_string_equal(r.path, "");
}

/* No prefix of a valid message is valid, and none crashes. */
static void test_truncated_messages(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    cJSON_ArrayForEach(c, kt_array(root, "valid"))
    {
        char *text = cJSON_PrintUnformatted(kt_member(c, "message"));
        size_t len = strlen(text);
        for (size_t n = 0; n < len; n++) {
            char *cut = malloc(n + 1);
            memcpy(cut, text, n);
            kiln_message_result_t r;
            assert_int_equal(kiln_message_validate(cut, n, KILN_SENDER_ANY, &r, NULL), KILN_ERR_MSG_INVALID_JSON);
            free(cut);
        }
        free(text);
    }
    cJSON_Delete(root);
}

/* Random edits of valid messages: any outcome but a crash; the result is consistent. */
static void test_random_edits(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    static const char INSERTS[] = "{}[]\",:0-1e.\\u tfn";
    uint32_t seed = 99;
    const cJSON *c;
    cJSON_ArrayForEach(c, kt_array(root, "valid"))
    {
        char *text = cJSON_PrintUnformatted(kt_member(c, "message"));
        size_t len = strlen(text);
        char *edit = malloc(len + 1);
        for (int round = 0; round < 2000; round++) {
            memcpy(edit, text, len);
            for (int k = 0; k < 3; k++) {
                uint32_t r = kt_random(&seed);
                edit[r % len] = (r & 0x10000) ? (char)(r >> 24) : INSERTS[(r >> 20) % (sizeof(INSERTS) - 1)];
            }
            kiln_message_result_t res;
            cJSON *tree = NULL;
            kiln_err_t err = kiln_message_validate(edit, len, KILN_SENDER_ANY, &res, &tree);
            assert_int_equal(err, res.code);
            assert_true((err == KILN_OK) == (tree != NULL));
            assert_true(strlen(res.path) < KILN_MESSAGE_PATH_MAX);
            cJSON_Delete(tree);
        }
        free(edit);
        free(text);
    }
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_messages),
        cmocka_unit_test(test_invalid_messages_code_and_path),
        cmocka_unit_test(test_json_is_parsed_as_strictly_as_javascript),
        cmocka_unit_test(test_escapes_javascript_keeps),
        cmocka_unit_test(test_paths_are_json_pointers),
        cmocka_unit_test(test_long_unknown_key_path_is_truncated),
        cmocka_unit_test(test_c_side_limits),
        cmocka_unit_test(test_size_limit),
        cmocka_unit_test(test_truncated_messages),
        cmocka_unit_test(test_random_edits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
