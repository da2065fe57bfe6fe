/* kiln_improv against improv.json, plus truncation and random-input robustness. */
#include <stdlib.h>
#include <string.h>

#include "kiln_improv.h"
#include "kiln_test_support.h"

#define MAX_STRINGS 16

/* Everything a receiver decodes from one frame: the frame, then its RPC data. */
static kiln_err_t decode_all(const uint8_t *buf, size_t len)
{
    kiln_improv_frame_t frame;
    kiln_err_t err = kiln_improv_frame_decode(buf, len, &frame);
    if (err != KILN_OK) return err;
    if (frame.type == KILN_IMPROV_TYPE_RPC_COMMAND) {
        kiln_improv_rpc_command_t cmd;
        err = kiln_improv_rpc_command_decode(frame.data, frame.data_len, &cmd);
        if (err == KILN_OK && cmd.command == KILN_IMPROV_CMD_WIFI_SETTINGS) {
            kiln_improv_string_t ssid, password;
            err = kiln_improv_wifi_settings_decode(cmd.payload, cmd.payload_len, &ssid, &password);
        }
    } else if (frame.type == KILN_IMPROV_TYPE_RPC_RESULT) {
        kiln_improv_string_t strings[MAX_STRINGS];
        uint8_t command = 0;
        size_t count = 0;
        err = kiln_improv_rpc_result_decode(frame.data, frame.data_len, &command, strings, MAX_STRINGS, &count);
    }
    return err;
}

static void assert_string(const kiln_improv_string_t *s, const char *want)
{
    assert_int_equal(s->len, strlen(want));
    assert_memory_equal(s->bytes, want, s->len);
}

static void check_rpc(const cJSON *rpc, const kiln_improv_frame_t *frame)
{
    if (frame->type == KILN_IMPROV_TYPE_RPC_COMMAND) {
        kiln_improv_rpc_command_t cmd;
        assert_int_equal(kiln_improv_rpc_command_decode(frame->data, frame->data_len, &cmd), KILN_OK);
        assert_int_equal(cmd.command, (int)kt_number(rpc, "command"));
        size_t len = 0;
        uint8_t *payload = kt_hex(kt_string(rpc, "payload"), &len);
        assert_int_equal(cmd.payload_len, len);
        assert_memory_equal(cmd.payload, payload, len);
        free(payload);
        const cJSON *wifi = cJSON_GetObjectItemCaseSensitive(rpc, "wifi");
        if (wifi != NULL) {
            kiln_improv_string_t ssid, password;
            assert_int_equal(kiln_improv_wifi_settings_decode(cmd.payload, cmd.payload_len, &ssid, &password), KILN_OK);
            assert_string(&ssid, kt_string(wifi, "ssid"));
            assert_string(&password, kt_string(wifi, "password"));
        }
        return;
    }
    assert_int_equal(frame->type, KILN_IMPROV_TYPE_RPC_RESULT);
    kiln_improv_string_t strings[MAX_STRINGS];
    uint8_t command = 0;
    size_t count = 0;
    assert_int_equal(kiln_improv_rpc_result_decode(frame->data, frame->data_len, &command, strings, MAX_STRINGS, &count),
                     KILN_OK);
    assert_int_equal(command, (int)kt_number(rpc, "command"));
    const cJSON *want = kt_array(rpc, "strings");
    assert_int_equal(count, (size_t)cJSON_GetArraySize(want));
    for (size_t i = 0; i < count; i++) {
        assert_string(&strings[i], cJSON_GetArrayItem(want, (int)i)->valuestring);
    }
    /* Building the same result gives the same bytes, without the sdk-cpp trailing byte. */
    uint8_t built[KILN_IMPROV_DATA_MAX];
    size_t built_len = 0;
    assert_int_equal(kiln_improv_rpc_result_encode(command, strings, count, built, sizeof(built), &built_len), KILN_OK);
    assert_int_equal(built_len, 2u + frame->data[1]);
    assert_memory_equal(built, frame->data, built_len);
}

static void test_valid_vectors_decode_and_encode(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, kt_array(root, "valid"))
    {
        size_t len = 0, data_len = 0;
        uint8_t *bytes = kt_hex(kt_string(c, "hex"), &len);
        uint8_t *data = kt_hex(kt_string(c, "data"), &data_len);
        kiln_improv_frame_t frame;
        kiln_err_t err = kiln_improv_frame_decode(bytes, len, &frame);
        if (err != KILN_OK) fail_msg("%s: %s", kt_string(c, "name"), kiln_err_name(err));
        assert_int_equal(frame.type, (int)kt_number(c, "type"));
        assert_int_equal(frame.data_len, data_len);
        assert_memory_equal(frame.data, data, data_len);
        const cJSON *rpc = cJSON_GetObjectItemCaseSensitive(c, "rpc");
        if (rpc != NULL) check_rpc(rpc, &frame);

        uint8_t encoded[KILN_IMPROV_FRAME_MAX];
        size_t encoded_len = 0;
        assert_int_equal(kiln_improv_frame_encode(frame.type, data, data_len, encoded, sizeof(encoded), &encoded_len),
                         KILN_OK);
        assert_int_equal(encoded_len, len);
        assert_memory_equal(encoded, bytes, len);
        free(bytes);
        free(data);
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

static void test_invalid_vectors_give_their_error(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, kt_array(root, "invalid"))
    {
        size_t len = 0;
        uint8_t *bytes = kt_hex(kt_string(c, "hex"), &len);
        const char *got = kiln_err_name(decode_all(bytes, len));
        if (strcmp(got, kt_string(c, "error")) != 0) {
            fail_msg("%s: got %s, want %s", kt_string(c, "name"), got, kt_string(c, "error"));
        }
        free(bytes);
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

/* A frame cut anywhere (a serial read that stopped early) is TRUNCATED, never a frame. */
static void test_every_truncation_is_truncated(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    cJSON_ArrayForEach(c, kt_array(root, "valid"))
    {
        size_t len = 0;
        uint8_t *bytes = kt_hex(kt_string(c, "hex"), &len);
        for (size_t n = 0; n < len; n++) {
            /* A copy of exactly n bytes, so ASan sees any read past the cut. */
            uint8_t *cut = malloc(n + 1);
            memcpy(cut, bytes, n);
            kiln_improv_frame_t frame;
            assert_int_equal(kiln_improv_frame_decode(cut, n, &frame), KILN_ERR_IMPROV_TRUNCATED);
            free(cut);
        }
        free(bytes);
    }
    cJSON_Delete(root);
}

/* Random frames with a valid header and checksum: decoding never reads out of bounds. */
static void test_random_frames_are_handled(void **state)
{
    (void)state;
    uint32_t seed = 0x1a2b3c4du;
    for (int round = 0; round < 20000; round++) {
        uint8_t data[KILN_IMPROV_DATA_MAX];
        size_t data_len = kt_random(&seed) % (KILN_IMPROV_DATA_MAX + 1);
        for (size_t i = 0; i < data_len; i++) {
            /* Small values often, so inner lengths sometimes fit. */
            uint32_t r = kt_random(&seed);
            data[i] = (uint8_t)((r & 0x100) ? r % 8 : r);
        }
        uint8_t type = (uint8_t)(1 + kt_random(&seed) % 4);
        uint8_t frame[KILN_IMPROV_FRAME_MAX];
        size_t len = 0;
        assert_int_equal(kiln_improv_frame_encode(type, data, data_len, frame, sizeof(frame), &len), KILN_OK);
        uint8_t *exact = malloc(len);
        memcpy(exact, frame, len);
        kiln_err_t err = decode_all(exact, len);
        assert_true(err == KILN_OK || err == KILN_ERR_IMPROV_BAD_LENGTH || err == KILN_ERR_NO_MEM);
        /* Corrupting one byte of the frame is always caught by a check. */
        size_t at = kt_random(&seed) % len;
        exact[at] ^= (uint8_t)(1 + kt_random(&seed) % 255);
        kiln_improv_frame_t decoded;
        assert_int_not_equal(kiln_improv_frame_decode(exact, len, &decoded), KILN_OK);
        free(exact);
    }
}

static void test_encode_limits(void **state)
{
    (void)state;
    uint8_t data[256] = {0};
    uint8_t out[KILN_IMPROV_FRAME_MAX];
    size_t len = 0;
    assert_int_equal(kiln_improv_frame_encode(1, data, 256, out, sizeof(out), &len), KILN_ERR_IMPROV_BAD_LENGTH);
    assert_int_equal(kiln_improv_frame_encode(1, data, 255, out, 264, &len), KILN_ERR_NO_MEM);
    kiln_improv_string_t big = {data, 254};
    assert_int_equal(kiln_improv_rpc_result_encode(1, &big, 1, out, sizeof(out), &len), KILN_ERR_IMPROV_BAD_LENGTH);
    kiln_improv_string_t fits = {data, 252};
    assert_int_equal(kiln_improv_rpc_result_encode(1, &fits, 1, out, sizeof(out), &len), KILN_OK);
    assert_int_equal(len, 255);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_vectors_decode_and_encode),
        cmocka_unit_test(test_invalid_vectors_give_their_error),
        cmocka_unit_test(test_every_truncation_is_truncated),
        cmocka_unit_test(test_random_frames_are_handled),
        cmocka_unit_test(test_encode_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
