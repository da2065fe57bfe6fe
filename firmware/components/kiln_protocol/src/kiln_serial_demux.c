/* UART stream demultiplexer (see kiln_serial_demux.h), one byte at a time so any
 * split of the stream gives the same events. Twin of protocol/src/serial/demux.ts. */
#include "kiln_serial_demux.h"

#include <stdbool.h>
#include <string.h>

#include "kiln_improv.h"
#include "kiln_rpc.h"

enum {
    ST_LINE_START,
    ST_PREFIX,       /* matching "IMPROV" + version */
    ST_TEXT,
    ST_IMPROV,
    ST_AFTER_IMPROV, /* a '\n' here still belongs to the frame */
    ST_RPC,
    ST_DISCARD,      /* the rest of a too-long RPC line */
};

#define NL 0x0A
#define CR 0x0D
#define RPC_START 0x01

static const uint8_t IMPROV_PREFIX[7] = {'I', 'M', 'P', 'R', 'O', 'V', KILN_IMPROV_VERSION};

_Static_assert(KILN_IMPROV_FRAME_MAX <= KILN_SERIAL_LINE_MAX, "an Improv frame fits the buffer");
_Static_assert(KILN_RPC_LINE_MAX + 1u <= KILN_SERIAL_LINE_MAX, "an RPC line (and the byte that makes it too long) fits the buffer");

static void emit(kiln_serial_demux_t *d, kiln_serial_event_kind_t kind, size_t len)
{
    if (d->on_event != NULL) {
        d->on_event(d->ctx, kind, d->buf, len);
    }
    d->len = 0;
}

static void text_byte(kiln_serial_demux_t *d, uint8_t b)
{
    if (b == NL) {
        size_t end = d->len;
        if (end > 0 && d->buf[end - 1] == CR) {
            end--;
        }
        emit(d, KILN_SERIAL_EVENT_TEXT_LINE, end);
        d->state = ST_LINE_START;
        return;
    }
    if (d->len == KILN_SERIAL_LINE_MAX) {
        /* Longer than the limit: cut here; the rest is still text, not a line start. */
        emit(d, KILN_SERIAL_EVENT_TEXT_LINE, d->len);
    }
    d->buf[d->len++] = b;
}

static void line_start_byte(kiln_serial_demux_t *d, uint8_t b)
{
    d->len = 0;
    if (b == RPC_START) {
        d->state = ST_RPC;
        d->buf[d->len++] = b;
    } else if (b == IMPROV_PREFIX[0]) {
        d->state = ST_PREFIX;
        d->buf[d->len++] = b;
    } else {
        d->state = ST_TEXT;
        text_byte(d, b);
    }
}

static void step(kiln_serial_demux_t *d, uint8_t b)
{
    switch (d->state) {
    case ST_AFTER_IMPROV:
        d->state = ST_LINE_START;
        if (b != NL) {
            line_start_byte(d, b);
        }
        return;
    case ST_LINE_START:
        line_start_byte(d, b);
        return;
    case ST_PREFIX:
        if (b != IMPROV_PREFIX[d->len]) {
            /* Not Improv after all: what was held is the start of a text line. */
            d->state = ST_TEXT;
            text_byte(d, b);
            return;
        }
        d->buf[d->len++] = b;
        if (d->len == sizeof(IMPROV_PREFIX)) {
            d->state = ST_IMPROV;
            d->need = KILN_IMPROV_HEADER_LEN;
        }
        return;
    case ST_IMPROV:
        d->buf[d->len++] = b;
        if (d->len == KILN_IMPROV_HEADER_LEN) {
            d->need = KILN_IMPROV_HEADER_LEN + b + 1u; /* b is the length byte */
        }
        if (d->len == d->need) {
            emit(d, KILN_SERIAL_EVENT_IMPROV_FRAME, d->len);
            d->state = ST_AFTER_IMPROV;
        }
        return;
    case ST_RPC:
        d->buf[d->len++] = b;
        if (b == NL || d->len == KILN_RPC_LINE_MAX + 1u) {
            emit(d, KILN_SERIAL_EVENT_RPC_LINE, d->len);
            d->state = b == NL ? ST_LINE_START : ST_DISCARD;
        }
        return;
    case ST_DISCARD:
        if (b == NL) {
            d->state = ST_LINE_START;
        }
        return;
    case ST_TEXT:
    default:
        text_byte(d, b);
        return;
    }
}

void kiln_serial_demux_init(kiln_serial_demux_t *demux, kiln_serial_event_cb_t on_event, void *ctx)
{
    if (demux == NULL) {
        return;
    }
    memset(demux, 0, sizeof(*demux));
    demux->on_event = on_event;
    demux->ctx = ctx;
    demux->state = ST_LINE_START;
}

void kiln_serial_demux_push(kiln_serial_demux_t *demux, const uint8_t *bytes, size_t len)
{
    if (demux == NULL || (bytes == NULL && len != 0)) {
        return;
    }
    for (size_t i = 0; i < len; i++) {
        step(demux, bytes[i]);
    }
}

void kiln_serial_demux_reset(kiln_serial_demux_t *demux)
{
    if (demux != NULL) {
        demux->state = ST_LINE_START;
        demux->len = 0;
    }
}
