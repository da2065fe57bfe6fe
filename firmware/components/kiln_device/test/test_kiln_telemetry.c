/* kiln_telemetry: sources, the ring's order, acks out of order, resend, overflow policy. */
#include <stdio.h>
#include <string.h>

#include "kiln_telemetry.h"
#include "kiln_test_support.h"

static bool read_const(void *ctx, double *v)
{
    *v = *(double *)ctx;
    return true;
}
static bool read_none(void *ctx, double *v)
{
    (void)ctx;
    *v = 0;
    return false;
}

static double ONE = 1.0;

static void test_sources_reject_bad_names(void **state)
{
    (void)state;
    static kiln_telemetry_t t;
    kiln_telemetry_init(&t, 4);
    assert_int_equal(kiln_telemetry_add_source(&t, "temp_c", read_const, &ONE), KILN_OK);
    assert_int_equal(kiln_telemetry_add_source(&t, "temp_c", read_const, &ONE), KILN_ERR_INVALID_ARG);
    assert_int_equal(kiln_telemetry_add_source(&t, "Temp", read_const, &ONE), KILN_ERR_INVALID_ARG);
    assert_int_equal(kiln_telemetry_add_source(&t, "9lives", read_const, &ONE), KILN_ERR_INVALID_ARG);
    assert_int_equal(kiln_telemetry_add_source(&t, "", read_const, &ONE), KILN_ERR_INVALID_ARG);
    assert_int_equal(kiln_telemetry_add_source(&t, "a23456789012345678901234567890123", read_const, &ONE),
                     KILN_ERR_INVALID_ARG);
    char name[8];
    for (int i = 1; i < KILN_TELEMETRY_SOURCES_MAX; i++) {
        snprintf(name, sizeof(name), "m%d", i);
        assert_int_equal(kiln_telemetry_add_source(&t, name, read_const, &ONE), KILN_OK);
    }
    assert_int_equal(kiln_telemetry_add_source(&t, "one_more", read_const, &ONE), KILN_ERR_NO_MEM);
}

static void test_no_values_no_sample(void **state)
{
    (void)state;
    static kiln_telemetry_t t;
    kiln_telemetry_init(&t, 4);
    assert_int_equal(kiln_telemetry_add_source(&t, "nothing", read_none, NULL), KILN_OK);
    uint32_t seq = 5;
    assert_null(kiln_telemetry_take(&t, 0, &seq));
    assert_int_equal(seq, 5); /* no seq is spent on it */
}

static void test_order_ack_and_resend(void **state)
{
    (void)state;
    static kiln_telemetry_t t;
    kiln_telemetry_init(&t, 8);
    assert_int_equal(kiln_telemetry_add_source(&t, "one", read_const, &ONE), KILN_OK);
    uint32_t seq = 10;
    for (int i = 0; i < 5; i++) {
        kiln_sample_t *s = kiln_telemetry_take(&t, (uint64_t)i * 1000u, &seq);
        assert_non_null(s);
        assert_int_equal(s->seq, 10 + 3 * i);
        seq += 2; /* other messages take seqs in between */
    }
    size_t cursor = 0;
    kiln_sample_t *s;
    uint32_t want = 10;
    while ((s = kiln_telemetry_next_unsent(&t, &cursor)) != NULL) {
        assert_int_equal(s->seq, want);
        want += 3;
        s->sent = 1;
    }
    assert_int_equal(kiln_telemetry_pending(&t), 5);
    assert_true(kiln_telemetry_ack(&t, 16)); /* the middle one first */
    assert_false(kiln_telemetry_ack(&t, 16)); /* twice is once */
    assert_false(kiln_telemetry_ack(&t, 11)); /* never a sample */
    assert_true(kiln_telemetry_ack(&t, 10));
    assert_int_equal(kiln_telemetry_pending(&t), 3);
    /* Reconnect: the unacknowledged ones again, in order, keeping their seqs. */
    kiln_telemetry_mark_unsent(&t);
    cursor = 0;
    const uint32_t again[] = {13, 19, 22};
    for (size_t i = 0; i < 3; i++) {
        s = kiln_telemetry_next_unsent(&t, &cursor);
        assert_non_null(s);
        assert_int_equal(s->seq, again[i]);
    }
    assert_null(kiln_telemetry_next_unsent(&t, &cursor));
    assert_int_equal(t.acked, 2);
}

static void test_overflow_drops_oldest_and_counts(void **state)
{
    (void)state;
    static kiln_telemetry_t t;
    kiln_telemetry_init(&t, 3);
    assert_int_equal(kiln_telemetry_add_source(&t, "one", read_const, &ONE), KILN_OK);
    uint32_t seq = 0;
    for (int i = 0; i < 5; i++) {
        assert_non_null(kiln_telemetry_take(&t, 0, &seq));
    }
    assert_int_equal(t.dropped, 2);
    assert_int_equal(kiln_telemetry_pending(&t), 3);
    size_t cursor = 0;
    assert_int_equal(kiln_telemetry_next_unsent(&t, &cursor)->seq, 2); /* 0 and 1 went */
    /* An acknowledged sample pushed out is not a loss. */
    assert_true(kiln_telemetry_ack(&t, 3));
    assert_true(kiln_telemetry_ack(&t, 2));
    assert_non_null(kiln_telemetry_take(&t, 0, &seq));
    assert_non_null(kiln_telemetry_take(&t, 0, &seq));
    assert_int_equal(t.dropped, 2);
    assert_int_equal(t.created, 7);
}

static void test_capacity_is_clamped(void **state)
{
    (void)state;
    static kiln_telemetry_t t;
    kiln_telemetry_init(&t, 0);
    assert_int_equal(t.capacity, 1);
    kiln_telemetry_init(&t, 100000);
    assert_int_equal(t.capacity, KILN_TELEMETRY_RING_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sources_reject_bad_names),   cmocka_unit_test(test_no_values_no_sample),
        cmocka_unit_test(test_order_ack_and_resend),       cmocka_unit_test(test_overflow_drops_oldest_and_counts),
        cmocka_unit_test(test_capacity_is_clamped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
