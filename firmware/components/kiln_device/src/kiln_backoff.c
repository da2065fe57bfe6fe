/* Exponential backoff with full jitter (see kiln_backoff.h). */
#include "kiln_backoff.h"

#include <stddef.h>
#include <string.h>

void kiln_backoff_init(kiln_backoff_t *backoff, const kiln_backoff_config_t *config)
{
    if (backoff == NULL || config == NULL) {
        return;
    }
    memset(backoff, 0, sizeof(*backoff));
    backoff->config = *config;
    if (backoff->config.base_ms == 0) {
        backoff->config.base_ms = 1;
    }
    if (backoff->config.cap_ms < backoff->config.base_ms) {
        backoff->config.cap_ms = backoff->config.base_ms;
    }
}

uint32_t kiln_backoff_ceiling(const kiln_backoff_t *backoff)
{
    if (backoff->held > 0) {
        /* Never longer than the usual cap: a bench configured for quick retries keeps them. */
        return backoff->config.restart_cap_ms < backoff->config.cap_ms ? backoff->config.restart_cap_ms
                                                                       : backoff->config.cap_ms;
    }
    uint64_t ceiling = backoff->config.base_ms;
    for (uint32_t i = 0; i < backoff->attempt && ceiling < backoff->config.cap_ms; i++) {
        ceiling *= 2u;
    }
    return ceiling > backoff->config.cap_ms ? backoff->config.cap_ms : (uint32_t)ceiling;
}

uint32_t kiln_backoff_next(kiln_backoff_t *backoff, uint32_t random)
{
    uint64_t span = (uint64_t)kiln_backoff_ceiling(backoff) + 1u;
    /* Multiply-shift maps 32 random bits onto [0, span) without the bias of a modulo. */
    uint32_t wait = (uint32_t)(((uint64_t)random * span) >> 32);
    if (backoff->held > 0) {
        backoff->held--;
    } else if (backoff->attempt < UINT32_MAX) {
        backoff->attempt++;
    }
    return wait;
}

void kiln_backoff_connected(kiln_backoff_t *backoff, uint64_t now_ms)
{
    backoff->connected = 1;
    backoff->connected_at_ms = now_ms;
    backoff->held = 0;
}

void kiln_backoff_disconnected(kiln_backoff_t *backoff, uint64_t now_ms)
{
    if (backoff->connected && now_ms - backoff->connected_at_ms >= backoff->config.stable_ms) {
        backoff->attempt = 0;
    }
    backoff->connected = 0;
}

void kiln_backoff_reset(kiln_backoff_t *backoff)
{
    backoff->attempt = 0;
    backoff->held = 0;
}

void kiln_backoff_restarting(kiln_backoff_t *backoff)
{
    if (backoff->config.restart_cap_ms == 0 || backoff->config.restart_attempts == 0) {
        return;
    }
    backoff->held = backoff->config.restart_attempts;
    backoff->attempt = 0;
}

uint32_t kiln_backoff_attempts(const kiln_backoff_t *backoff) { return backoff->attempt; }
