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

#include "kiln_backoff.h" /* the firmware's reconnect policy (firmware/components/kiln_device) */

#define CONNECT_TIMEOUT_MS 30000.0

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
  uint16_t close_code;  /* the server's WebSocket close code on this connection (0: none) */
  SSL_SESSION *session; /* the TLS session the server last gave (its ticket), kept across connections */
  /* Storms (storm.c): presigned tokens, the next one unused; reconnect policy and timing. */
  char **tokens;
  size_t ntokens, next_token;
  uint16_t tries;      /* failed attempts since the last welcome */
  double retry_at;     /* ms, monotonic: the next attempt (0: none due) */
  double welcomed_at;  /* ms, wall clock: the last welcome */
  double attempt_at;   /* ms, wall clock: when the storm's current attempt began (0: none yet) */
  kiln_backoff_t backoff;
} conn;

/* Set up by loadgen.c from argv. */
extern struct config {
  const char *host, *path, *ca, *tokens, *boot_id;
  int port, concurrency, heartbeat_sec;
  bool raw;
} cfg;
extern int epfd;
extern conn *conns;
extern size_t nconns;

/* loadgen.c */
double mono_ms(void);
double wall_ms(void);
double cpu_ms(void);
/** One JSON line on stdout: the answer to the command being run. */
void answer(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Counts a failure by its reason (printed the first time); storm.c keeps when it happened. */
void note_failure(const char *reason);
/** The text of reason `i` as note_failure numbered it. */
const char *failure_reason(size_t i);
void on_welcome(conn *c);
void on_opened(conn *c);
void on_ack(conn *c, uint32_t seq, double now);
/** A connection failed or was closed; `prev` is the state it was in. */
void on_lost(conn *c, int prev);
/** Fails a handshake (TCP, TLS, upgrade or welcome) begun more than CONNECT_TIMEOUT_MS ago. */
void fail_if_slow(conn *c, double now);

/* storm.c */
extern bool storm_resume;
bool storm_armed(void);
bool storm_awaiting(void);
void storm_arm(bool resume, const char *tokens_path);
void storm_await(double since_epoch_ms);
void storm_tick(void);
void storm_note_failure(size_t reason);
void storm_on_lost(conn *c, int prev);
void storm_on_welcome(conn *c);
/** The TCP connection is up: its token may reach the gateway, so the next attempt takes another. */
void storm_on_tcp(conn *c);
void storm_on_tls(bool reused);

/* conn.c */
void net_init(void);
/** Cheap, unpredictable enough for WebSocket masks and backoff jitter (seeded once from getrandom). */
uint32_t rand32(void);
void conn_start(conn *c);
void conn_event(conn *c, uint32_t events);
void conn_fail(conn *c, const char *reason);
void conn_close(conn *c);
/** Queues one masked text frame (payload at buf + 14; 14 bytes before it are free for the header)
 *  and writes what it can. False if the connection's bounded buffer is full (the frame is dropped). */
bool conn_send_text(conn *c, uint8_t *buf, size_t len);

#endif
