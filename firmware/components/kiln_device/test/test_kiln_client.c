/* kiln_client: what the device sends validates as kiln.v1 (from = device), and what
 * the gateway may send (protocol/vectors/messages.json) reads back, field for field. */
#include <stdlib.h>
#include <string.h>

#include "kiln_client.h"
#include "kiln_test_support.h"

static void assert_device_message(const char *text, size_t len, const char *type)
{
    kiln_message_result_t r;
    kiln_err_t err = kiln_message_validate(text, len, KILN_SENDER_DEVICE, &r, NULL);
    if (err != KILN_OK) fail_msg("%s: %s at \"%s\": %s", type, kiln_err_name(err), r.path, text);
    assert_string_equal(r.type, type);
}

static bool read_v(void *ctx, double *v)
{
    *v = *(double *)ctx;
    return true;
}

static void test_encoded_messages_are_valid(void **state)
{
    (void)state;
    char out[4096];
    size_t len = 0;
    kiln_hello_t h = {"dev-1", "0123abcd0123abcd", "kiln-firmware", "1.2.3", "esp32s3", "24:0a:c4:00:11:22"};
    assert_int_equal(kiln_client_encode_hello(7, &h, out, sizeof(out), &len), KILN_OK);
    assert_device_message(out, len, "hello");
    assert_int_equal(kiln_client_encode_hello(7, &h, out, 40, &len), KILN_ERR_NO_MEM);

    static kiln_telemetry_t t;
    kiln_telemetry_init(&t, 8);
    double a = 21.5, b = -3e10;
    kiln_telemetry_add_source(&t, "temp_c", read_v, &a);
    kiln_telemetry_add_source(&t, "big.value", read_v, &b);
    uint32_t seq = 100;
    kiln_sample_t *s[3];
    for (int i = 0; i < 3; i++) s[i] = kiln_telemetry_take(&t, 1000u * (uint64_t)i, &seq);
    int64_t wall_offset = INT64_C(1714000000000);
    assert_int_equal(kiln_client_encode_samples(0, &t, s, 1, wall_offset, out, sizeof(out), &len), KILN_OK);
    assert_device_message(out, len, "telemetry");
    assert_non_null(strstr(out, "\"seq\":100"));
    assert_non_null(strstr(out, "\"ts\":1714000000000"));
    assert_int_equal(kiln_client_encode_samples(seq, &t, s, 3, wall_offset, out, sizeof(out), &len), KILN_OK);
    assert_device_message(out, len, "telemetry_batch");
    assert_non_null(strstr(out, "\"seq\":102,\"ts\":1714000002000"));
    assert_int_equal(kiln_client_encode_samples(seq, &t, s, 3, wall_offset, out, 100, &len), KILN_ERR_NO_MEM);
    assert_int_equal(kiln_client_encode_samples(seq, &t, s, 0, wall_offset, out, sizeof(out), &len),
                     KILN_ERR_INVALID_ARG);

    assert_int_equal(kiln_client_encode_heartbeat(9, 123456, out, sizeof(out), &len), KILN_OK);
    assert_device_message(out, len, "heartbeat");

    cJSON *result = cJSON_CreateObject();
    cJSON_AddNumberToObject(result, "x", 1);
    assert_int_equal(kiln_client_encode_command_result(10, "c-1", "ok", result, NULL, out, sizeof(out), &len),
                     KILN_OK);
    assert_device_message(out, len, "command_result");
    cJSON_Delete(result);
    char long_error[300];
    memset(long_error, 'e', sizeof(long_error) - 1);
    long_error[sizeof(long_error) - 1] = '\0';
    assert_int_equal(kiln_client_encode_command_result(11, "c-2", "error", NULL, long_error, out, sizeof(out), &len),
                     KILN_OK);
    assert_device_message(out, len, "command_result"); /* cut to 128 bytes */
    assert_int_equal(kiln_client_encode_error(12, "BAD_MESSAGE", "INVALID_JSON at ", true, 3, out, sizeof(out), &len),
                     KILN_OK);
    assert_device_message(out, len, "error");
}

/* The bounded writer: escapes as JSON needs, numbers read back exactly, every cut is NO_MEM. */
static void test_writer_escapes_numbers_and_bounds(void **state)
{
    (void)state;
    char out[1024];
    size_t len = 0;
    const char *text = "quote \" backslash \\ nl \n tab \t ctl \x01\x1f del \x7f caf\xc3\xa9 \xe2\x82\xac";
    assert_int_equal(kiln_client_encode_command_result(1, "c-1", "error", NULL, text, out, sizeof(out), &len),
                     KILN_OK);
    assert_int_equal(len, strlen(out));
    /* Quotes and backslashes are escaped; control characters become spaces (SPEC `text`). */
    assert_device_message(out, len, "command_result");
    cJSON *m = cJSON_ParseWithLength(out, len);
    assert_non_null(m);
    assert_string_equal(cJSON_GetObjectItemCaseSensitive(m, "error")->valuestring,
                        "quote \" backslash \\ nl   tab   ctl    del   caf\xc3\xa9 \xe2\x82\xac");
    cJSON_Delete(m);
    assert_int_equal(kiln_client_encode_command_result(2, "c-2", "error", NULL, "a \"b\" \\ caf\xc3\xa9", out,
                                                       sizeof(out), &len),
                     KILN_OK);
    assert_device_message(out, len, "command_result");
    assert_non_null(strstr(out, "\"error\":\"a \\\"b\\\" \\\\ caf\xc3\xa9\""));

    static kiln_telemetry_t t;
    kiln_telemetry_init(&t, 2);
    static double v[] = {0.1, -0.0, 1e300, -2.5e-300, 123456789012.0, 9007199254740993.0, 1.0 / 3.0, -7.0};
    static const char *const names[] = {"a", "b", "c", "d", "e", "f", "g", "h"};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) kiln_telemetry_add_source(&t, names[i], read_v, &v[i]);
    uint32_t seq = 0;
    kiln_sample_t *s = kiln_telemetry_take(&t, 5, &seq);
    assert_int_equal(kiln_client_encode_samples(0, &t, &s, 1, 0, out, sizeof(out), &len), KILN_OK);
    assert_device_message(out, len, "telemetry");
    m = cJSON_ParseWithLength(out, len);
    const cJSON *metrics = cJSON_GetObjectItemCaseSensitive(m, "metrics");
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        const cJSON *x = cJSON_GetObjectItemCaseSensitive(metrics, names[i]);
        assert_true(cJSON_IsNumber(x));
        if (x->valuedouble != v[i]) fail_msg("metric %s: %.17g read back as %.17g (%s)", names[i], v[i],
                                             x->valuedouble, out);
    }
    cJSON_Delete(m);

    /* Every buffer size below the full length fails cleanly, NUL-terminated, never past the end. */
    size_t full = len;
    for (size_t size = 1; size <= full; size++) {
        char cut[1024];
        memset(cut, 'X', sizeof(cut));
        assert_int_equal(kiln_client_encode_samples(0, &t, &s, 1, 0, cut, size, &len), KILN_ERR_NO_MEM);
        assert_true(memchr(cut, '\0', size) != NULL);
        assert_int_equal(cut[size], 'X');
    }
    assert_int_equal(kiln_client_encode_samples(0, &t, &s, 1, 0, out, full + 1, &len), KILN_OK);
    assert_int_equal(len, full);
}

static void test_gateway_vectors_parse(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int gateway = 0;
    cJSON_ArrayForEach(c, kt_array(root, "valid"))
    {
        const cJSON *m = kt_member(c, "message");
        const char *type = kt_string(m, "type");
        char *text = cJSON_PrintUnformatted(m);
        kiln_incoming_t in;
        cJSON *tree = NULL;
        kiln_message_result_t r;
        kiln_err_t err = kiln_client_parse(text, strlen(text), &in, &tree, &r);
        bool from_gateway = strcmp(type, "welcome") == 0 || strcmp(type, "ack") == 0 || strcmp(type, "command") == 0 ||
                            strcmp(type, "config") == 0 || strcmp(type, "heartbeat") == 0 ||
                            strcmp(type, "error") == 0;
        if (!from_gateway) {
            assert_int_equal(err, KILN_ERR_MSG_UNEXPECTED_TYPE); /* a device message is refused */
        } else {
            if (err != KILN_OK) fail_msg("%s: %s at %s", kt_string(c, "name"), kiln_err_name(err), r.path);
            gateway++;
            assert_int_equal(in.seq, (uint32_t)kt_number(m, "seq"));
            if (in.kind == KILN_IN_WELCOME) {
                assert_int_equal(in.u.welcome.max_batch, (uint32_t)kt_number(m, "maxBatch"));
            } else if (in.kind == KILN_IN_COMMAND) {
                assert_string_equal(in.u.command.id, kt_string(m, "id"));
                assert_string_equal(in.u.command.name, kt_string(m, "name"));
            } else if (in.kind == KILN_IN_ACK) {
                assert_int_equal(cJSON_GetArraySize(in.u.ack.acked), cJSON_GetArraySize(kt_member(m, "acked")));
            }
        }
        cJSON_Delete(tree);
        free(text);
    }
    assert_true(gateway > 0);
    cJSON_ArrayForEach(c, kt_array(root, "invalid"))
    {
        const cJSON *from = cJSON_GetObjectItemCaseSensitive(c, "from");
        if (cJSON_IsString(from) && strcmp(from->valuestring, "device") == 0) {
            continue; /* invalid from a device may be valid from the gateway */
        }
        const char *text = kt_string(c, "text");
        kiln_incoming_t in;
        cJSON *tree = NULL;
        kiln_message_result_t r;
        assert_int_not_equal(kiln_client_parse(text, strlen(text), &in, &tree, &r), KILN_OK);
        assert_null(tree);
    }
    cJSON_Delete(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_encoded_messages_are_valid),
        cmocka_unit_test(test_writer_escapes_numbers_and_bounds),
        cmocka_unit_test(test_gateway_vectors_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
