/* kiln_backoff: full-jitter bounds, the cap, the reset after a stable connection, a restart's hold. */
#include "kiln_backoff.h"
#include "kiln_test_support.h"

static const kiln_backoff_config_t CFG = {
    .base_ms = 100, .cap_ms = 1000, .stable_ms = 5000, .restart_cap_ms = 50, .restart_attempts = 3};

static void test_ceiling_doubles_to_the_cap(void **state)
{
    (void)state;
    kiln_backoff_t b;
    kiln_backoff_init(&b, &CFG);
    const uint32_t want[] = {100, 200, 400, 800, 1000, 1000, 1000};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        assert_int_equal(kiln_backoff_ceiling(&b), want[i]);
        (void)kiln_backoff_next(&b, 0);
    }
    for (int i = 0; i < 100; i++) {
        (void)kiln_backoff_next(&b, UINT32_MAX); /* no overflow however many attempts */
    }
    assert_int_equal(kiln_backoff_ceiling(&b), 1000);
}

static void test_full_jitter_bounds(void **state)
{
    (void)state;
    kiln_backoff_t b;
    kiln_backoff_init(&b, &CFG);
    assert_int_equal(kiln_backoff_next(&b, 0), 0);               /* the bottom of [0, 100] */
    assert_int_equal(kiln_backoff_next(&b, UINT32_MAX), 200);    /* the top of [0, 200] */
    uint32_t seed = 7;
    uint32_t lo = UINT32_MAX, hi = 0;
    for (int i = 0; i < 2000; i++) {
        kiln_backoff_reset(&b);
        for (int k = 0; k < 5; k++) {
            (void)kiln_backoff_next(&b, kt_random(&seed));
        }
        uint32_t ceiling = kiln_backoff_ceiling(&b);
        uint32_t w = kiln_backoff_next(&b, kt_random(&seed));
        assert_true(w <= ceiling);
        lo = w < lo ? w : lo;
        hi = w > hi ? w : hi;
    }
    /* Uniform over [0, cap]: a fleet spreads over the whole window. */
    assert_true(lo < 100);
    assert_true(hi > 900);
}

static void test_reset_only_after_a_stable_connection(void **state)
{
    (void)state;
    kiln_backoff_t b;
    kiln_backoff_init(&b, &CFG);
    (void)kiln_backoff_next(&b, 1);
    (void)kiln_backoff_next(&b, 1);
    kiln_backoff_connected(&b, 10000);
    kiln_backoff_disconnected(&b, 12000); /* up 2 s: flapping, keep backing off */
    assert_int_equal(kiln_backoff_attempts(&b), 2);
    kiln_backoff_connected(&b, 20000);
    kiln_backoff_disconnected(&b, 25000); /* up 5 s: stable */
    assert_int_equal(kiln_backoff_attempts(&b), 0);
    assert_int_equal(kiln_backoff_ceiling(&b), 100);
}

static void test_a_restart_holds_the_ceiling_then_starts_over(void **state)
{
    (void)state;
    kiln_backoff_t b;
    kiln_backoff_init(&b, &CFG);
    for (int i = 0; i < 6; i++) {
        (void)kiln_backoff_next(&b, 1);
    }
    assert_int_equal(kiln_backoff_ceiling(&b), 1000);
    kiln_backoff_restarting(&b);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(kiln_backoff_ceiling(&b), 50);
        assert_int_equal(kiln_backoff_next(&b, UINT32_MAX), 50);
    }
    /* The exponential again, from its base. */
    const uint32_t want[] = {100, 200, 400};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(kiln_backoff_ceiling(&b), want[i]);
        (void)kiln_backoff_next(&b, 0);
    }
    /* A connection ends the hold; a reset does too. */
    kiln_backoff_restarting(&b);
    kiln_backoff_connected(&b, 1000);
    kiln_backoff_disconnected(&b, 1100);
    assert_int_equal(kiln_backoff_ceiling(&b), 100);
    kiln_backoff_restarting(&b);
    kiln_backoff_reset(&b);
    assert_int_equal(kiln_backoff_ceiling(&b), 100);
    /* A restart ceiling above the usual cap gives way to it. */
    kiln_backoff_config_t quick = CFG;
    quick.restart_cap_ms = 5000;
    kiln_backoff_init(&b, &quick);
    kiln_backoff_restarting(&b);
    assert_int_equal(kiln_backoff_ceiling(&b), 1000);
    /* Without a restart ceiling (the Wi-Fi backoff's), nothing is held. */
    kiln_backoff_config_t plain = CFG;
    plain.restart_cap_ms = 0;
    kiln_backoff_init(&b, &plain);
    (void)kiln_backoff_next(&b, 0);
    kiln_backoff_restarting(&b);
    assert_int_equal(kiln_backoff_ceiling(&b), 200);
}

static void test_bad_config_is_made_usable(void **state)
{
    (void)state;
    kiln_backoff_t b;
    kiln_backoff_config_t bad = {.base_ms = 0, .cap_ms = 0, .stable_ms = 0};
    kiln_backoff_init(&b, &bad);
    assert_int_equal(kiln_backoff_ceiling(&b), 1);
    assert_true(kiln_backoff_next(&b, UINT32_MAX) <= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ceiling_doubles_to_the_cap),
        cmocka_unit_test(test_full_jitter_bounds),
        cmocka_unit_test(test_reset_only_after_a_stable_connection),
        cmocka_unit_test(test_a_restart_holds_the_ceiling_then_starts_over),
        cmocka_unit_test(test_bad_config_is_made_usable),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
