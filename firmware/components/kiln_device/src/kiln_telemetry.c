/* Metric sources and the ring of unacknowledged samples (see kiln_telemetry.h). */
#include "kiln_telemetry.h"

#include <math.h>
#include <string.h>

#include "kiln_format.h"

void kiln_telemetry_init(kiln_telemetry_t *t, size_t capacity)
{
    if (t == NULL) {
        return;
    }
    memset(t, 0, sizeof(*t));
    t->capacity = capacity == 0 ? 1 : capacity > KILN_TELEMETRY_RING_MAX ? KILN_TELEMETRY_RING_MAX : capacity;
}

kiln_err_t kiln_telemetry_add_source(kiln_telemetry_t *t, const char *name, kiln_metric_read_t read, void *ctx)
{
    if (t == NULL || name == NULL || read == NULL) {
        return KILN_ERR_INVALID_ARG;
    }
    size_t len = strlen(name);
    if (len == 0 || len > KILN_METRIC_NAME_MAX || !kiln_format_matches(KILN_FORMAT_METRIC_NAME, name, len)) {
        return KILN_ERR_INVALID_ARG;
    }
    for (size_t i = 0; i < t->source_count; i++) {
        if (strcmp(t->sources[i].name, name) == 0) {
            return KILN_ERR_INVALID_ARG;
        }
    }
    if (t->source_count == KILN_TELEMETRY_SOURCES_MAX) {
        return KILN_ERR_NO_MEM;
    }
    kiln_metric_source_t *s = &t->sources[t->source_count++];
    memcpy(s->name, name, len + 1);
    s->read = read;
    s->ctx = ctx;
    return KILN_OK;
}

static kiln_sample_t *at(kiln_telemetry_t *t, size_t i) { return &t->ring[(t->head + i) % t->capacity]; }

/* Forgets acknowledged samples at the old end. */
static void trim(kiln_telemetry_t *t)
{
    while (t->count > 0 && at(t, 0)->acked) {
        t->head = (t->head + 1) % t->capacity;
        t->count--;
    }
}

kiln_sample_t *kiln_telemetry_take(kiln_telemetry_t *t, uint64_t uptime_ms, uint32_t *seq_counter)
{
    if (t == NULL || seq_counter == NULL) {
        return NULL;
    }
    kiln_sample_t s;
    memset(&s, 0, sizeof(s));
    for (size_t i = 0; i < t->source_count; i++) {
        double v = 0;
        if (t->sources[i].read(t->sources[i].ctx, &v) && isfinite(v)) {
            s.values[i] = v;
            s.present = (uint16_t)(s.present | (1u << i));
        }
    }
    if (s.present == 0) {
        return NULL;
    }
    if (t->count == t->capacity) {
        if (!at(t, 0)->acked) {
            t->dropped++;
        }
        t->head = (t->head + 1) % t->capacity;
        t->count--;
    }
    s.seq = (*seq_counter)++;
    s.uptime_ms = uptime_ms;
    kiln_sample_t *slot = at(t, t->count++);
    *slot = s;
    t->created++;
    return slot;
}

bool kiln_telemetry_ack(kiln_telemetry_t *t, uint32_t seq)
{
    if (t == NULL) {
        return false;
    }
    for (size_t i = 0; i < t->count; i++) {
        kiln_sample_t *s = at(t, i);
        if (s->seq == seq && !s->acked) {
            s->acked = 1;
            t->acked++;
            trim(t);
            return true;
        }
    }
    return false;
}

void kiln_telemetry_mark_unsent(kiln_telemetry_t *t)
{
    for (size_t i = 0; t != NULL && i < t->count; i++) {
        at(t, i)->sent = 0;
    }
}

kiln_sample_t *kiln_telemetry_next_unsent(kiln_telemetry_t *t, size_t *cursor)
{
    if (t == NULL || cursor == NULL) {
        return NULL;
    }
    while (*cursor < t->count) {
        kiln_sample_t *s = at(t, (*cursor)++);
        if (!s->sent && !s->acked) {
            return s;
        }
    }
    return NULL;
}

size_t kiln_telemetry_pending(const kiln_telemetry_t *t)
{
    size_t n = 0;
    for (size_t i = 0; t != NULL && i < t->count; i++) {
        n += t->ring[(t->head + i) % t->capacity].acked ? 0u : 1u;
    }
    return n;
}
