/*
 * The native device-fleet load generator (see loadgen.c for what it does and its stdin/stdout
 * protocol). Shared between loadgen.c (commands, telemetry schedule) and conn.c (TCP, TLS,
 * WebSocket client).
 */
#ifndef KILN_LOADGEN_H
#define KILN_LOADGEN_H

#define _GNU_SOURCE
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <openssl/ssl.h>

/** Where a device connection is: each state is entered once, in this order (DEAD from any). */
enum conn_state { C_IDLE, C_TCP, C_TLS, C_HTTP, C_WELCOME, C_OPEN, C_DEAD };

/** When a telemetry sample was sent, kept until it is acknowledged (seq 0 = empty slot). */
typedef struct {
  uint32_t seq;
  float t; /* ms after the telemetry command began, monotonic clock */
} sent_slot;

typedef struct {
  int fd;
  uint8_t state;
  uint32_t events; /* the epoll interest registered */
  SSL *ssl;
  double started;  /* ms, monotonic: the 30 s connect timeout runs from here */
  const char *id, *token;
  char ws_key[25]; /* Sec-WebSocket-Key sent, to check Sec-WebSocket-Accept */
  /* Bytes not yet written: SSL_write would block. `blocked` is the length of the write OpenSSL
     must see again (it requires the retry to repeat it); the buffer may move (SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER). */
  uint8_t *out;
  size_t out_len, out_cap, blocked;
  /* Bytes read but not yet parsed: the HTTP response, or a frame split across reads. */
  uint8_t *in;
  size_t in_len, in_cap;
  uint32_t next_seq; /* the next telemetry seq of this boot */
  sent_slot *ring;   /* this device's send times during a telemetry command (NULL outside one) */
  uint32_t ring_mask;
} conn;

/* Set up by loadgen.c from argv. */
extern struct config {
  const char *host, *path, *ca, *tokens, *boot_id;
  int port, concurrency, heartbeat_sec;
  bool raw;
} cfg;
extern int epfd;

/* loadgen.c */
double mono_ms(void);
void note_failure(const char *reason);
void on_welcome(conn *c);
void on_opened(conn *c);
void on_ack(conn *c, uint32_t seq, double now);
/** A connection failed or was closed; `prev` is the state it was in. */
void on_lost(conn *c, int prev);

/* conn.c */
void net_init(void);
void conn_start(conn *c);
void conn_event(conn *c, uint32_t events);
void conn_fail(conn *c, const char *reason);
void conn_close(conn *c);
/** Queues one masked text frame (payload at buf + 14; 14 bytes before it are free for the header)
 *  and writes what it can. False if the connection's bounded buffer is full (the frame is dropped). */
bool conn_send_text(conn *c, uint8_t *buf, size_t len);

#endif
