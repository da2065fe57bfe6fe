/* kiln_serial_demux against serial-stream.json, fed whole, one byte at a time and
 * split at every position, plus SPEC §2.1 edges and random streams. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kiln_improv.h"
#include "kiln_rpc.h"
#include "kiln_serial_demux.h"
#include "kiln_test_support.h"

#define MAX_EVENTS 64

typedef struct {
    kiln_serial_event_kind_t kind;
    uint8_t *bytes;
    size_t len;
} event_t;

typedef struct {
    event_t events[MAX_EVENTS];
    size_t count;
} recorder_t;

static void record(void *ctx, kiln_serial_event_kind_t kind, const uint8_t *bytes, size_t len)
{
    recorder_t *r = ctx;
    assert_true(r->count < MAX_EVENTS);
    event_t *e = &r->events[r->count++];
    e->kind = kind;
    e->bytes = malloc(len + 1);
    memcpy(e->bytes, bytes, len);
    e->len = len;
}

static void recorder_free(recorder_t *r)
{
    for (size_t i = 0; i < r->count; i++) free(r->events[i].bytes);
    r->count = 0;
}

static void assert_bytes(const event_t *e, const char *hex, const char *name)
{
    size_t len = 0;
    uint8_t *want = kt_hex(hex, &len);
    if (e->len != len || memcmp(e->bytes, want, len) != 0) fail_msg("%s: event bytes differ", name);
    free(want);
}

/* One vector event against one recorded event. */
static void assert_event(const cJSON *want, const event_t *got, const char *name)
{
    const char *kind = kt_string(want, "kind");
    if (strcmp(kind, "log") == 0) {
        if (got->kind != KILN_SERIAL_EVENT_TEXT_LINE) fail_msg("%s: expected a log line", name);
        /* The vector holds text as the TS side decodes it: UTF-8 with U+FFFD for bad bytes. */
        char *text = kt_utf8_lossy(got->bytes, got->len);
        if (strcmp(text, kt_string(want, "text")) != 0) {
            fail_msg("%s: log \"%s\", want \"%s\"", name, text, kt_string(want, "text"));
        }
        free(text);
    } else if (strcmp(kind, "improv") == 0) {
        if (got->kind != KILN_SERIAL_EVENT_IMPROV_FRAME) fail_msg("%s: expected an Improv frame", name);
        const cJSON *frame = cJSON_GetObjectItemCaseSensitive(want, "frame");
        if (frame != NULL) {
            assert_bytes(got, frame->valuestring, name);
        } else {
            /* SPEC.md §3 spells the event {"kind":"improv","type","data"}. */
            kiln_improv_frame_t f;
            assert_int_equal(kiln_improv_frame_decode(got->bytes, got->len, &f), KILN_OK);
            assert_int_equal(f.type, (int)kt_number(want, "type"));
            size_t len = 0;
            uint8_t *data = kt_hex(kt_string(want, "data"), &len);
            assert_int_equal(f.data_len, len);
            assert_memory_equal(f.data, data, len);
            free(data);
        }
    } else if (strcmp(kind, "rpc") == 0) {
        if (got->kind != KILN_SERIAL_EVENT_RPC_LINE) fail_msg("%s: expected an RPC line", name);
        assert_bytes(got, kt_string(want, "line"), name);
    } else {
        fail_msg("%s: unknown event kind %s", name, kind);
    }
}

static void assert_events(const cJSON *c, recorder_t *r, const char *how)
{
    const cJSON *events = kt_array(c, "events");
    char name[256];
    snprintf(name, sizeof(name), "%s (%s)", kt_string(c, "name"), how);
    if ((size_t)cJSON_GetArraySize(events) != r->count) {
        fail_msg("%s: %zu events, want %d", name, r->count, cJSON_GetArraySize(events));
    }
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, events) assert_event(e, &r->events[i++], name);
    recorder_free(r);
}

static void test_stream_vectors_whole_bytewise_and_split(void **state)
{
    (void)state;
    cJSON *root = kt_load_vectors(KILN_VECTOR_FILE);
    const cJSON *c;
    int count = 0;
    static recorder_t r;
    static kiln_serial_demux_t d;
    cJSON_ArrayForEach(c, kt_array(root, "cases"))
    {
        size_t len = 0;
        uint8_t *bytes = kt_hex(kt_string(c, "hex"), &len);

        kiln_serial_demux_init(&d, record, &r);
        kiln_serial_demux_push(&d, bytes, len);
        assert_events(c, &r, "whole");

        kiln_serial_demux_init(&d, record, &r);
        for (size_t i = 0; i < len; i++) kiln_serial_demux_push(&d, bytes + i, 1);
        assert_events(c, &r, "one byte at a time");

        for (size_t split = 0; split <= len; split++) {
            char how[64];
            snprintf(how, sizeof(how), "split at %zu", split);
            kiln_serial_demux_init(&d, record, &r);
            kiln_serial_demux_push(&d, bytes, split);
            kiln_serial_demux_push(&d, bytes + split, len - split);
            assert_events(c, &r, how);
        }
        free(bytes);
        count++;
    }
    assert_true(count > 0);
    cJSON_Delete(root);
}

static void feed(kiln_serial_demux_t *d, const char *s) { kiln_serial_demux_push(d, (const uint8_t *)s, strlen(s)); }

/* SPEC §2.1: a line of exactly 1024 bytes is not "longer than 1024", so it is not cut. */
static void test_line_of_exactly_1024_bytes_is_one_line(void **state)
{
    (void)state;
    static recorder_t r;
    static kiln_serial_demux_t d;
    static char line[1026];
    memset(line, 'y', 1024);
    line[1024] = '\n';
    line[1025] = '\0';
    kiln_serial_demux_init(&d, record, &r);
    feed(&d, line);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.events[0].len, 1024);
    recorder_free(&r);
    /* With a CR before the LF the CR is dropped, and still no empty line follows. */
    line[1023] = '\r';
    kiln_serial_demux_init(&d, record, &r);
    feed(&d, line);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.events[0].len, 1023);
    recorder_free(&r);
}

/* After a reset, a half-received frame is forgotten and the next byte starts a line. */
static void test_reset_drops_partial_frame(void **state)
{
    (void)state;
    static recorder_t r;
    static kiln_serial_demux_t d;
    kiln_serial_demux_init(&d, record, &r);
    feed(&d, "IMPROV\x01\x01");
    kiln_serial_demux_reset(&d);
    feed(&d, "I (1) boot: ok\n");
    assert_int_equal(r.count, 1);
    assert_int_equal(r.events[0].kind, KILN_SERIAL_EVENT_TEXT_LINE);
    assert_int_equal(r.events[0].len, strlen("I (1) boot: ok"));
    recorder_free(&r);
}

/* Random streams: every event stays within its bound, whatever the bytes. */
static void test_random_streams_respect_bounds(void **state)
{
    (void)state;
    static recorder_t r;
    static kiln_serial_demux_t d;
    static const uint8_t PIECES[][8] = {"IMPROV", "\x01K1:", "\n", "\r\n", "x", "\x01"};
    uint32_t seed = 7;
    kiln_serial_demux_init(&d, record, &r);
    for (int round = 0; round < 200000; round++) {
        uint32_t pick = kt_random(&seed);
        if (pick % 4 == 0) {
            const uint8_t *p = PIECES[pick / 4 % 6];
            kiln_serial_demux_push(&d, p, strlen((const char *)p));
        } else {
            uint8_t b = (uint8_t)(pick >> 8);
            kiln_serial_demux_push(&d, &b, 1);
        }
        for (size_t i = 0; i < r.count; i++) {
            const event_t *e = &r.events[i];
            if (e->kind == KILN_SERIAL_EVENT_TEXT_LINE) assert_true(e->len <= KILN_SERIAL_LINE_MAX);
            if (e->kind == KILN_SERIAL_EVENT_IMPROV_FRAME) assert_true(e->len <= KILN_IMPROV_FRAME_MAX);
            if (e->kind == KILN_SERIAL_EVENT_RPC_LINE) assert_true(e->len <= KILN_RPC_LINE_MAX + 1);
        }
        recorder_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stream_vectors_whole_bytewise_and_split),
        cmocka_unit_test(test_line_of_exactly_1024_bytes_is_one_line),
        cmocka_unit_test(test_reset_drops_partial_frame),
        cmocka_unit_test(test_random_streams_respect_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
