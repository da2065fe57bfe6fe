/* The kiln.v1 session of the device: hello, welcome, telemetry and its resend,
 * acks, heartbeats, commands, config, and what a close means (SPEC.md §1.3, §1.6). */
#pragma once

#include "kiln_device_internal.h"

/** @brief A WebSocket event (open, text, closed) from the port. */
void kiln_session_event(kiln_device_t *dev, const kiln_port_event_t *event);

/** @brief Heartbeat and welcome timeout. */
void kiln_session_tick(kiln_device_t *dev, uint64_t now_ms);

/** @brief Sends the unsent, unacknowledged samples in order (when online), in batches that fit. */
void kiln_session_flush(kiln_device_t *dev);
