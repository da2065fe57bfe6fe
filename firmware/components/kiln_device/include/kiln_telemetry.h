/*
 * Telemetry: metric sources (built-in and the application's) and the RAM ring
 * buffer of samples the gateway has not acknowledged yet (SPEC.md §1.3, DESIGN:
 * at-least-once from the device).
 *
 * A sample keeps the seq it was created with; it is sent once per connection and
 * sent again, in creation order, after a reconnect until an `ack` names its seq.
 *
 * Overflow policy: when the ring is full, taking a new sample evicts the OLDEST
 * sample (acknowledged or not): fresh data wins over stale data, the same choice
 * the gateway's bounded send queue makes. Each unacknowledged sample evicted this
 * way is counted in `dropped`, which the device reports in GET_STATUS and as the
 * `telemetry_dropped` metric, so the loss is visible, never silent.
 *
 * Sizes are compile-time (Kconfig-style macros) so the ring is static RAM:
 * KILN_TELEMETRY_SOURCES_MAX sources, KILN_TELEMETRY_RING_MAX samples; the
 * capacity actually used is chosen at init (1..KILN_TELEMETRY_RING_MAX).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_err.h"

#ifdef __cplusplus
extern "C" {
#endif

#ifndef KILN_TELEMETRY_SOURCES_MAX
#define KILN_TELEMETRY_SOURCES_MAX 16 /*!< metrics per sample; at most 32 (SPEC) and 16 (present mask) */
#endif
#ifndef KILN_TELEMETRY_RING_MAX
#define KILN_TELEMETRY_RING_MAX 32    /*!< samples the ring can hold */
#endif
#define KILN_METRIC_NAME_MAX 32       /*!< SPEC metricName: 1..32 bytes */

/**
 * Reads one metric. Called from the core's task when a sample is taken.
 * @return true with @p value set (a finite number), false to leave the metric out of this sample.
 */
typedef bool (*kiln_metric_read_t)(void *ctx, double *value);

typedef struct {
    char name[KILN_METRIC_NAME_MAX + 1];
    kiln_metric_read_t read;
    void *ctx;
} kiln_metric_source_t;

typedef struct {
    uint64_t uptime_ms;  /*!< when it was taken; ts = wall clock of that moment, computed when sent */
    uint32_t seq;        /*!< from the device's per-boot counter, kept when resent */
    uint16_t present;    /*!< bit i: values[i] holds source i */
    uint8_t sent;        /*!< sent on the current connection */
    uint8_t acked;       /*!< the gateway stored it (kept only until the older ones go) */
    double values[KILN_TELEMETRY_SOURCES_MAX];
} kiln_sample_t; /* 16 bytes of header (no padding) + 8 per source slot */

/** Sources and ring. Fields are private; public only for static allocation. */
typedef struct {
    kiln_metric_source_t sources[KILN_TELEMETRY_SOURCES_MAX];
    size_t source_count;
    kiln_sample_t ring[KILN_TELEMETRY_RING_MAX];
    size_t capacity;
    size_t head;
    size_t count;
    uint32_t created;  /*!< samples taken this boot */
    uint32_t dropped;  /*!< unacknowledged samples evicted by overflow */
    uint32_t acked;    /*!< samples acknowledged */
} kiln_telemetry_t;

/** @brief Empty ring of @p capacity samples (clamped to 1..KILN_TELEMETRY_RING_MAX), no sources. */
void kiln_telemetry_init(kiln_telemetry_t *t, size_t capacity);

/**
 * @brief Adds a metric source; samples taken afterwards include it.
 * @return
 *   - KILN_OK
 *   - KILN_ERR_INVALID_ARG if a pointer is NULL, @p name is not a metricName or is taken already
 *   - KILN_ERR_NO_MEM if KILN_TELEMETRY_SOURCES_MAX sources exist
 */
kiln_err_t kiln_telemetry_add_source(kiln_telemetry_t *t, const char *name, kiln_metric_read_t read, void *ctx);

/**
 * @brief Reads every source into a new sample at the end of the ring (evicting the oldest when full).
 * @param seq_counter the device's per-boot counter: the sample takes its value and it is incremented.
 * @return the new sample, or NULL (and the counter untouched) if no source gave a value.
 */
kiln_sample_t *kiln_telemetry_take(kiln_telemetry_t *t, uint64_t uptime_ms, uint32_t *seq_counter);

/** @return true if @p seq was an unacknowledged sample in the ring (it is acknowledged now). */
bool kiln_telemetry_ack(kiln_telemetry_t *t, uint32_t seq);

/** @brief Marks every sample unsent (a new connection: resend all unacknowledged ones). */
void kiln_telemetry_mark_unsent(kiln_telemetry_t *t);

/**
 * @brief Iterates the unsent, unacknowledged samples oldest first.
 * @param cursor 0 to start; advanced by the call.
 * @return the next such sample, or NULL at the end.
 */
kiln_sample_t *kiln_telemetry_next_unsent(kiln_telemetry_t *t, size_t *cursor);

/** @return samples in the ring that are not acknowledged. */
size_t kiln_telemetry_pending(const kiln_telemetry_t *t);

#ifdef __cplusplus
}
#endif
