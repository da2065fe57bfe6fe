/*
 * Splits one UART byte stream into text lines (ESP-IDF logs, console output),
 * Improv Serial frames and Kiln RPC lines (SPEC.md §2.1). Fed any number of
 * bytes at a time, split anywhere; fixed buffers, no allocation.
 *
 * At a line start (stream start, after '\n', after an Improv frame):
 *   "IMPROV" 0x01 ...  an Improv frame, its length in byte 8; one '\n' right after it is swallowed;
 *   0x01 ...           a Kiln RPC line up to and including '\n' (the RPC decoder judges the
 *                      version); a line over 512 bytes is delivered as its first 513 bytes so the
 *                      decoder reports RPC_TOO_LONG, and the rest of it is dropped;
 *   anything else      a text line up to '\n', one trailing '\r' dropped; a line longer than
 *                      1024 bytes is cut there, and the rest goes on as text.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define KILN_SERIAL_LINE_MAX 1024u /*!< longest text line delivered in one piece */

typedef enum {
    KILN_SERIAL_EVENT_TEXT_LINE,    /*!< bytes without '\n' (and without a trailing '\r') */
    KILN_SERIAL_EVENT_IMPROV_FRAME, /*!< a whole frame, checksum unchecked: pass it to kiln_improv_frame_decode() */
    KILN_SERIAL_EVENT_RPC_LINE,     /*!< a line with its '\n', or 513 bytes of a too-long one: pass it to kiln_rpc_frame_decode() */
} kiln_serial_event_kind_t;

/**
 * Called once per event, in stream order, from inside kiln_serial_demux_push().
 * @p bytes is valid only during the call.
 */
typedef void (*kiln_serial_event_cb_t)(void *ctx, kiln_serial_event_kind_t kind, const uint8_t *bytes, size_t len);

/** Demultiplexer state. Fields are private; public only for static allocation. */
typedef struct {
    kiln_serial_event_cb_t on_event;
    void *ctx;
    uint8_t state;
    size_t len;
    size_t need;
    uint8_t buf[KILN_SERIAL_LINE_MAX];
} kiln_serial_demux_t;

/** @brief Starts at a line start, delivering events to @p on_event. */
void kiln_serial_demux_init(kiln_serial_demux_t *demux, kiln_serial_event_cb_t on_event, void *ctx);

/** @brief Feeds @p len bytes; completes zero or more events. */
void kiln_serial_demux_push(kiln_serial_demux_t *demux, const uint8_t *bytes, size_t len);

/** @brief Drops any partial line or frame (after the peer reset, say) and returns to a line start. */
void kiln_serial_demux_reset(kiln_serial_demux_t *demux);

#ifdef __cplusplus
}
#endif
