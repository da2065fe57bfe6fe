/*
 * Reconnect backoff: exponential with FULL jitter (the AWS architecture blog's
 * "Full Jitter"): attempt n waits a uniformly random time in [0, min(cap, base * 2^n)].
 * After a connection that stayed up for at least stable_ms the attempt count starts
 * over. Pure arithmetic over a caller's random numbers: deterministic under test.
 *
 * A restart the server announced (kiln_backoff_restarting: the gateway closed with 1001)
 * holds the ceiling at restart_cap_ms for the next restart_attempts waits, then the
 * exponential starts again from base_ms. Why: a gateway restart takes seconds, and with
 * the plain exponential the unluckiest of 10,000 devices, refused a few times while it was
 * down, drew waits of 16-32 s and came back 15-50 s after it was up again.
 */
#pragma once

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
    uint32_t base_ms;   /*!< ceiling of the first wait (attempt 0); > 0 */
    uint32_t cap_ms;    /*!< largest ceiling; >= base_ms */
    uint32_t stable_ms; /*!< a connection up this long resets the attempt count */
    uint32_t restart_cap_ms;   /*!< ceiling of each wait after an announced restart; 0: no such hold */
    uint32_t restart_attempts; /*!< how many waits that ceiling holds for */
} kiln_backoff_config_t;

/** Backoff state. Fields are private; public only for static allocation. */
typedef struct {
    kiln_backoff_config_t config;
    uint32_t attempt;
    uint64_t connected_at_ms;
    uint32_t held; /*!< waits left at restart_cap_ms */
    uint8_t connected;
} kiln_backoff_t;

/** @brief Starts at attempt 0. A zero base or a cap below base is raised to a usable value (base 1, cap base). */
void kiln_backoff_init(kiln_backoff_t *backoff, const kiln_backoff_config_t *config);

/** @return the ceiling of the next wait: min(restart_cap, cap) while a restart holds it, else min(cap, base * 2^attempt), without overflow. */
uint32_t kiln_backoff_ceiling(const kiln_backoff_t *backoff);

/**
 * @brief The next wait: @p random scaled uniformly into [0, ceiling], then one held wait fewer, or attempt + 1.
 * @param random 32 random bits (kiln_port_random()).
 * @return the wait in milliseconds, 0..kiln_backoff_ceiling() as it was before the call.
 */
uint32_t kiln_backoff_next(kiln_backoff_t *backoff, uint32_t random);

/** @brief The connection is up at @p now_ms; a restart's hold ends. */
void kiln_backoff_connected(kiln_backoff_t *backoff, uint64_t now_ms);

/** @brief The connection went down at @p now_ms: resets the attempts if it was up for stable_ms or more. */
void kiln_backoff_disconnected(kiln_backoff_t *backoff, uint64_t now_ms);

/** @brief Starts over at attempt 0 (new credentials, say); a restart's hold ends. */
void kiln_backoff_reset(kiln_backoff_t *backoff);

/**
 * @brief The server announced a restart: the next restart_attempts waits have the ceiling
 *        restart_cap_ms, then the exponential starts from base_ms. No effect when either is 0.
 */
void kiln_backoff_restarting(kiln_backoff_t *backoff);

/** @return the number of waits handed out since the last reset. */
uint32_t kiln_backoff_attempts(const kiln_backoff_t *backoff);

#ifdef __cplusplus
}
#endif
