/* kiln_rpc against serial-rpc.json (frames and reassembled messages), plus
 * chunking round trips, truncation and random-input robustness. */
#include <stdlib.h>
#include <string.h>

#include "kiln_rpc.h"
#include "kiln_test_support.h"

static void assert_data(const uint8_t *got, size_t got_len, const char *hex)
{
    size_t len = 0;
    uint8_t *want = kt_hex(hex, &len);
    assert_int_equal(got_len, len);
    assert_memory_equal(got, want, len);
    free(want);
}

static void test_valid_lines_decode_and_encode(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, kt_array(root, "valid"))
    {
        size_t len = 0;
        uint8_t *line = kt_hex(kt_string(c, "line"), &len);
        uint8_t payload[KILN_RPC_PAYLOAD_MAX];
        kiln_rpc_frame_t f;
        kiln_err_t err = kiln_rpc_frame_decode(line, len, payload, &f);
        if (err != KILN_OK) fail_msg("%s: %s", kt_string(c, "name"), kiln_err_name(err));
        assert_int_equal(f.kind, (int)kt_number(c, "kind"));
        assert_int_equal(f.method, (int)kt_number(c, "method"));
        assert_int_equal(f.id, (int)kt_number(c, "id"));
        assert_int_equal(f.status, (int)kt_number(c, "status"));
        assert_int_equal(f.flags, (int)kt_number(c, "flags"));
        assert_int_equal(f.chunk, (int)kt_number(c, "chunk"));
        assert_data(f.data, f.data_len, kt_string(c, "data"));

        /* Encoding the decoded frame gives the line back (with its '\n'). */
        uint8_t out[KILN_RPC_LINE_MAX];
        size_t out_len = 0;
        assert_int_equal(kiln_rpc_frame_encode(&f, out, sizeof(out), &out_len), KILN_OK);
        size_t body = line[len - 1] == '\n' ? len - 1 : len;
        assert_int_equal(out_len, body + 1);
        assert_memory_equal(out, line, body);
        assert_int_equal(out[body], '\n');
        free(line);
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

static void test_invalid_lines_give_their_error(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    cJSON_ArrayForEach(c, kt_array(root, "invalid"))
    {
        size_t len = 0;
        uint8_t *line = kt_hex(kt_string(c, "line"), &len);
        uint8_t payload[KILN_RPC_PAYLOAD_MAX];
        kiln_rpc_frame_t f;
        const char *got = kiln_err_name(kiln_rpc_frame_decode(line, len, payload, &f));
        if (strcmp(got, kt_string(c, "error")) != 0) {
            fail_msg("%s: got %s, want %s", kt_string(c, "name"), got, kt_string(c, "error"));
        }
        free(line);
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

/* Lines fed in order to one assembler give the vector's message or its error. */
static void test_messages_reassemble(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    static uint8_t value[KILN_RPC_VALUE_MAX];
    cJSON_ArrayForEach(c, kt_array(root, "messages"))
    {
        kiln_rpc_assembler_t a;
        kiln_rpc_assembler_init(&a, value, sizeof(value));
        kiln_err_t err = KILN_OK;
        bool complete = false;
        kiln_rpc_frame_t message;
        const cJSON *line_hex;
        cJSON_ArrayForEach(line_hex, kt_array(c, "lines"))
        {
            size_t len = 0;
            uint8_t *line = kt_hex(line_hex->valuestring, &len);
            uint8_t payload[KILN_RPC_PAYLOAD_MAX];
            kiln_rpc_frame_t f;
            assert_int_equal(kiln_rpc_frame_decode(line, len, payload, &f), KILN_OK);
            err = kiln_rpc_assembler_push(&a, &f, &message, &complete);
            if (complete) {
                /* The message may point into this frame's payload: copy what we check. */
                memmove(value, message.data, message.data_len);
                message.data = value;
            }
            free(line);
            if (err != KILN_OK || complete) break;
        }
        const cJSON *error = cJSON_GetObjectItemCaseSensitive(c, "error");
        if (error != NULL) {
            if (strcmp(kiln_err_name(err), error->valuestring) != 0) {
                fail_msg("%s: got %s, want %s", kt_string(c, "name"), kiln_err_name(err), error->valuestring);
            }
        } else {
            if (err != KILN_OK || !complete) fail_msg("%s: no message (%s)", kt_string(c, "name"), kiln_err_name(err));
            const cJSON *result = kt_member(c, "result");
            assert_int_equal(message.kind, (int)kt_number(result, "kind"));
            assert_int_equal(message.method, (int)kt_number(result, "method"));
            assert_int_equal(message.id, (int)kt_number(result, "id"));
            assert_int_equal(message.status, (int)kt_number(result, "status"));
            assert_data(message.data, message.data_len, kt_string(result, "data"));
        }
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

/* A value of any size up to 8192 goes out as chunk lines and comes back whole. */
static void test_chunking_round_trip(void **state)
{
    (void)state;
    static uint8_t value[KILN_RPC_VALUE_MAX];
    static uint8_t assembled[KILN_RPC_VALUE_MAX];
    uint32_t seed = 42;
    for (size_t i = 0; i < sizeof(value); i++) value[i] = (uint8_t)kt_random(&seed);
    static const size_t SIZES[] = {0, 1, 255, 256, 257, 512, 513, 4000, 8191, 8192};
    for (size_t s = 0; s < sizeof(SIZES) / sizeof(SIZES[0]); s++) {
        kiln_rpc_frame_t msg = {.kind = KILN_RPC_KIND_RESPONSE, .method = KILN_RPC_METHOD_GET_INFO, .id = 77,
                                .status = KILN_RPC_STATUS_OK, .data = value, .data_len = SIZES[s]};
        kiln_rpc_assembler_t a;
        kiln_rpc_assembler_init(&a, assembled, sizeof(assembled));
        size_t chunks = kiln_rpc_chunk_count(SIZES[s]);
        bool complete = false;
        kiln_rpc_frame_t out;
        for (size_t i = 0; i < chunks; i++) {
            kiln_rpc_frame_t chunk;
            assert_int_equal(kiln_rpc_message_chunk(&msg, i, &chunk), KILN_OK);
            uint8_t line[KILN_RPC_LINE_MAX];
            size_t line_len = 0;
            assert_int_equal(kiln_rpc_frame_encode(&chunk, line, sizeof(line), &line_len), KILN_OK);
            uint8_t payload[KILN_RPC_PAYLOAD_MAX];
            kiln_rpc_frame_t f;
            assert_int_equal(kiln_rpc_frame_decode(line, line_len, payload, &f), KILN_OK);
            assert_int_equal(kiln_rpc_assembler_push(&a, &f, &out, &complete), KILN_OK);
            assert_int_equal(complete, i + 1 == chunks);
            if (complete) {
                assert_int_equal(out.data_len, SIZES[s]);
                if (SIZES[s] > 0) assert_memory_equal(out.data, value, SIZES[s]);
                assert_int_equal(out.id, 77);
            }
        }
        kiln_rpc_frame_t none;
        assert_int_equal(kiln_rpc_message_chunk(&msg, chunks, &none), KILN_ERR_INVALID_ARG);
    }
    kiln_rpc_frame_t too_big = {.kind = 1, .data = value, .data_len = KILN_RPC_VALUE_MAX + 1};
    kiln_rpc_frame_t chunk;
    assert_int_equal(kiln_rpc_message_chunk(&too_big, 0, &chunk), KILN_ERR_RPC_TOO_LARGE);
}

/* A one-frame message between two chunks of another does not disturb it. */
static void test_single_frame_passes_an_unfinished_message(void **state)
{
    (void)state;
    uint8_t buf[1024];
    uint8_t part[256];
    memset(part, 'a', sizeof(part));
    kiln_rpc_assembler_t a;
    kiln_rpc_assembler_init(&a, buf, sizeof(buf));
    kiln_rpc_frame_t first = {.kind = 1, .method = 0x11, .id = 5, .flags = KILN_RPC_FLAG_MORE, .chunk = 0,
                              .data = part, .data_len = sizeof(part)};
    kiln_rpc_frame_t other = {.kind = 1, .method = 0x02, .id = 6, .data = NULL, .data_len = 0};
    kiln_rpc_frame_t last = {.kind = 1, .method = 0x11, .id = 5, .chunk = 1, .data = part, .data_len = 10};
    kiln_rpc_frame_t out;
    bool complete = false;
    assert_int_equal(kiln_rpc_assembler_push(&a, &first, &out, &complete), KILN_OK);
    assert_false(complete);
    assert_int_equal(kiln_rpc_assembler_push(&a, &other, &out, &complete), KILN_OK);
    assert_true(complete);
    assert_int_equal(out.id, 6);
    assert_int_equal(kiln_rpc_assembler_push(&a, &last, &out, &complete), KILN_OK);
    assert_true(complete);
    assert_int_equal(out.data_len, 266);
    /* Replaying the last chunk now is out of order. */
    assert_int_equal(kiln_rpc_assembler_push(&a, &last, &out, &complete), KILN_ERR_RPC_BAD_CHUNK);
}

/* Every prefix of a valid line decodes to an error (or, without only its '\n', the frame). */
static void test_every_truncation_is_refused(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    cJSON_ArrayForEach(c, kt_array(root, "valid"))
    {
        size_t len = 0;
        uint8_t *line = kt_hex(kt_string(c, "line"), &len);
        size_t body = line[len - 1] == '\n' ? len - 1 : len;
        for (size_t n = 0; n < body; n++) {
            uint8_t *cut = malloc(n + 1);
            memcpy(cut, line, n);
            uint8_t payload[KILN_RPC_PAYLOAD_MAX];
            kiln_rpc_frame_t f;
            assert_int_not_equal(kiln_rpc_frame_decode(cut, n, payload, &f), KILN_OK);
            free(cut);
        }
        free(line);
    }
    cJSON_Delete(root);
}

/* Random lines (often with the right prefix) never crash the decoder or the assembler. */
static void test_random_lines_are_handled(void **state)
{
    (void)state;
    static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=";
    uint32_t seed = 0xC0FFEEu;
    uint8_t value[KILN_RPC_VALUE_MAX];
    kiln_rpc_assembler_t a;
    kiln_rpc_assembler_init(&a, value, sizeof(value));
    for (int round = 0; round < 20000; round++) {
        size_t len = kt_random(&seed) % 600;
        uint8_t *line = malloc(len + 1);
        for (size_t i = 0; i < len; i++) {
            uint32_t r = kt_random(&seed);
            line[i] = (r & 1) ? (uint8_t)ALPHABET[r % (sizeof(ALPHABET) - 1)] : (uint8_t)(r >> 8);
        }
        if (len >= 4 && (kt_random(&seed) & 1)) memcpy(line, "\x01K1:", 4);
        uint8_t payload[KILN_RPC_PAYLOAD_MAX];
        kiln_rpc_frame_t f;
        if (kiln_rpc_frame_decode(line, len, payload, &f) == KILN_OK) {
            kiln_rpc_frame_t out;
            bool complete = false;
            (void)kiln_rpc_assembler_push(&a, &f, &out, &complete);
        }
        free(line);
    }
}

/* What a device answers: BAD_FRAME for any undecodable line, else the reassembly status. */
static void test_status_for_error(void **state)
{
    (void)state;
    for (kiln_err_t e = KILN_ERR_RPC_TOO_LONG; e <= KILN_ERR_RPC_BAD_FLAGS; e++) {
        assert_int_equal(kiln_rpc_status_for_error(e), KILN_RPC_STATUS_BAD_FRAME);
    }
    assert_int_equal(kiln_rpc_status_for_error(KILN_ERR_RPC_BAD_CHUNK), KILN_RPC_STATUS_BAD_CHUNK);
    assert_int_equal(kiln_rpc_status_for_error(KILN_ERR_RPC_TOO_LARGE), KILN_RPC_STATUS_TOO_LARGE);
    assert_int_equal(kiln_rpc_status_for_error(KILN_OK), KILN_RPC_STATUS_OK);
    assert_int_equal(kiln_rpc_status_for_error(KILN_ERR_NO_MEM), KILN_RPC_STATUS_INTERNAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_valid_lines_decode_and_encode),
        cmocka_unit_test(test_invalid_lines_give_their_error),
        cmocka_unit_test(test_messages_reassemble),
        cmocka_unit_test(test_chunking_round_trip),
        cmocka_unit_test(test_single_frame_passes_an_unfinished_message),
        cmocka_unit_test(test_every_truncation_is_refused),
        cmocka_unit_test(test_random_lines_are_handled),
        cmocka_unit_test(test_status_for_error),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
