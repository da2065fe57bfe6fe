/*
 * One simulated device's connection, as a Kiln device makes it: TCP, TLS 1.2 with the server's
 * chain verified against the CA file, an HTTP/1.1 WebSocket upgrade offering `kiln.v1` and the
 * device token as subprotocols, then masked text frames out and unmasked frames in (RFC 6455).
 * Non-blocking; loadgen.c's epoll loop calls conn_event() when the socket is ready.
 */
#include "loadgen.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

/* Unsent bytes one connection may hold while the socket is full; a frame beyond that is dropped
   and counted (reported as "dropped"), never silently. */
#define OUT_MAX (256 * 1024)
/* The largest message (or HTTP response) accepted from the server. */
#define IN_MAX (1024 * 1024)
#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

static SSL_CTX *ctx;
static struct sockaddr_storage addr;
static socklen_t addr_len;
static bool host_is_ip;
static uint64_t prng;
static uint8_t scratch[64 * 1024];

/* xorshift64*. The mask key only has to be unpredictable to intermediaries (RFC 6455 §10.3, against
   cache poisoning by a hostile page); a load generator on loopback has none, so the key is no secret
   here and a cheap generator seeded once from getrandom does. */
uint32_t rand32(void) {
  prng ^= prng >> 12;
  prng ^= prng << 25;
  prng ^= prng >> 27;
  return (uint32_t)((prng * 0x2545F4914F6CDD1DULL) >> 32);
}

static void die_ssl(const char *what) {
  fprintf(stderr, "loadgen: %s: ", what);
  ERR_print_errors_fp(stderr);
  fputc('\n', stderr);
  exit(2);
}

void net_init(void) {
  if (getrandom(&prng, sizeof prng, 0) != sizeof prng || prng == 0) prng = 0x9E3779B97F4A7C15ULL;
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV}, *ai;
  char port[16];
  snprintf(port, sizeof port, "%d", cfg.port);
  int rc = getaddrinfo(cfg.host, port, &hints, &ai);
  if (rc != 0) {
    fprintf(stderr, "loadgen: cannot resolve %s: %s\n", cfg.host, gai_strerror(rc));
    exit(2);
  }
  memcpy(&addr, ai->ai_addr, ai->ai_addrlen);
  addr_len = ai->ai_addrlen;
  freeaddrinfo(ai);
  uint8_t ip[16];
  host_is_ip = inet_pton(AF_INET, cfg.host, ip) == 1 || inet_pton(AF_INET6, cfg.host, ip) == 1;

  ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) die_ssl("SSL_CTX_new");
  /* What a Kiln device speaks: ESP-IDF's mbedTLS defaults to TLS 1.2 (firmware/sdkconfig.defaults does
     not enable 1.3). One context for the fleet: the trust store is loaded once, as a device does. */
  if (!SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION)) die_ssl("TLS 1.2");
  if (SSL_CTX_load_verify_locations(ctx, cfg.ca, NULL) != 1) die_ssl("cannot load the CA file");
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
  /* RELEASE_BUFFERS: an idle connection holds no 2×17 KiB record buffers (10,000 connections would
     otherwise take ~0.35 GiB more). MOVING_WRITE_BUFFER: a blocked write is retried from `out`,
     which may have been reallocated meanwhile. */
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
}

static void want(conn *c, uint32_t ev) {
  if (c->events == ev) return;
  struct epoll_event e = {.events = ev, .data.ptr = c};
  if (epoll_ctl(epfd, c->events ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, c->fd, &e) < 0) {
    perror("loadgen: epoll_ctl");
    exit(2);
  }
  c->events = ev;
}

void conn_close(conn *c) {
  /* Marked as shut down: OpenSSL makes the session of a connection freed without that
     unresumable, and a device keeps its ticket however the connection ended (esp-tls does). */
  if (c->ssl) {
    SSL_set_shutdown(c->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_free(c->ssl);
  }
  if (c->fd >= 0) close(c->fd); /* also leaves the epoll set */
  free(c->out);
  free(c->in);
  c->ssl = NULL;
  c->fd = -1;
  c->out = c->in = NULL;
  c->out_len = c->out_cap = c->blocked = c->in_len = c->in_cap = 0;
  c->events = 0;
  c->state = C_DEAD;
}

void conn_fail(conn *c, const char *reason) {
  int prev = c->state;
  if (prev == C_DEAD) return;
  note_failure(reason);
  conn_close(c);
  on_lost(c, prev);
}

/* Why a TLS call failed, in words (the certificate check first: it is the likeliest cause). */
static const char *ssl_reason(conn *c, int e, int err) {
  static char buf[256];
  long v = c->ssl ? SSL_get_verify_result(c->ssl) : X509_V_OK;
  unsigned long x = ERR_peek_error();
  if (v != X509_V_OK)
    snprintf(buf, sizeof buf, "TLS: server certificate not accepted: %s", X509_verify_cert_error_string(v));
  else if (e == SSL_ERROR_ZERO_RETURN)
    snprintf(buf, sizeof buf, "closed by the server (TLS close_notify)");
  else if (e == SSL_ERROR_SYSCALL && x == 0)
    snprintf(buf, sizeof buf, "%s", err ? strerror(err) : "connection closed by the server");
  else {
    memcpy(buf, "TLS: ", 5);
    ERR_error_string_n(x, buf + 5, sizeof buf - 5);
  }
  ERR_clear_error();
  return buf;
}

static bool append(uint8_t **buf, size_t *len, size_t *cap, size_t max, const void *p, size_t n) {
  if (*len + n > max) return false;
  if (*len + n > *cap) {
    size_t nc = *cap ? *cap : 1024;
    while (nc < *len + n) nc *= 2;
    uint8_t *b = realloc(*buf, nc);
    if (!b) return false;
    *buf = b;
    *cap = nc;
  }
  memcpy(*buf + *len, p, n);
  *len += n;
  return true;
}

static void flush(conn *c) {
  while (c->out_len > 0) {
    size_t n = c->blocked ? c->blocked : (c->out_len < 16384 ? c->out_len : 16384);
    ERR_clear_error();
    int r = SSL_write(c->ssl, c->out, (int)n);
    if (r > 0) {
      c->blocked = 0;
      memmove(c->out, c->out + r, c->out_len - (size_t)r);
      c->out_len -= (size_t)r;
      continue;
    }
    int err = errno, e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
      c->blocked = n; /* OpenSSL requires the same length again */
      want(c, EPOLLIN | EPOLLOUT);
      return;
    }
    conn_fail(c, ssl_reason(c, e, err));
    return;
  }
  if (c->events & EPOLLOUT) want(c, EPOLLIN);
}

static void mask(uint8_t *p, size_t len, const uint8_t key[4]) {
  uint32_t k, w;
  memcpy(&k, key, 4);
  size_t i = 0;
  for (; i + 4 <= len; i += 4) {
    memcpy(&w, p + i, 4);
    w ^= k;
    memcpy(p + i, &w, 4);
  }
  for (; i < len; i++) p[i] ^= key[i & 3];
}

/* Frames the payload at buf + 14 (the header goes into the 14 bytes before it), masks it in place. */
static bool send_frame(conn *c, int opcode, uint8_t *buf, size_t len) {
  if (!c->ssl) return false;
  uint8_t *p = buf + 14;
  size_t h = len < 126 ? 6 : len < 65536 ? 8 : 14;
  uint8_t *f = p - h;
  f[0] = (uint8_t)(0x80 | opcode);
  if (len < 126) {
    f[1] = (uint8_t)(0x80 | len);
  } else if (len < 65536) {
    f[1] = 0x80 | 126;
    f[2] = (uint8_t)(len >> 8);
    f[3] = (uint8_t)len;
  } else {
    f[1] = 0x80 | 127;
    for (int i = 0; i < 8; i++) f[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
  }
  uint32_t key = rand32();
  memcpy(p - 4, &key, 4);
  mask(p, len, p - 4);
  if (!append(&c->out, &c->out_len, &c->out_cap, OUT_MAX, f, h + len)) return false;
  flush(c);
  return true;
}

bool conn_send_text(conn *c, uint8_t *buf, size_t len) { return send_frame(c, 1, buf, len); }

/* `"key":` in a JSON text without nesting concerns: the gateway's messages are flat where we look. */
static const char *json_value(const char *s, size_t n, const char *key) {
  char pat[32];
  int k = snprintf(pat, sizeof pat, "\"%s\"", key);
  const char *p = memmem(s, n, pat, (size_t)k), *end = s + n;
  if (!p) return NULL;
  for (p += k; p < end && (*p == ' ' || *p == ':'); p++) {
  }
  return p < end ? p : NULL;
}

static void on_text(conn *c, const char *s, size_t n) {
  const char *t = json_value(s, n, "type"), *end = s + n;
  if (!t) return;
  if ((size_t)(end - t) >= 5 && memcmp(t, "\"ack\"", 5) == 0) {
    const char *p = json_value(s, n, "acked");
    if (!p || *p != '[') return;
    double now = mono_ms();
    uint64_t v = 0;
    bool digits = false;
    for (p++; p < end && *p != ']'; p++) {
      if (*p >= '0' && *p <= '9') {
        v = v * 10 + (uint64_t)(*p - '0');
        digits = true;
      } else if (digits) {
        on_ack(c, (uint32_t)v, now);
        v = 0;
        digits = false;
      }
    }
    if (digits) on_ack(c, (uint32_t)v, now);
  } else if ((size_t)(end - t) >= 9 && memcmp(t, "\"welcome\"", 9) == 0 && c->state == C_WELCOME) {
    c->state = C_OPEN;
    on_welcome(c);
  }
  /* Anything else (config, command, heartbeat, error) is not part of the load: ignored. */
}

static void on_frame(conn *c, uint8_t b0, uint8_t *p, size_t len) {
  int op = b0 & 0x0f;
  if (!(b0 & 0x80) || op == 0) {
    conn_fail(c, "fragmented WebSocket message (the gateway sends none; not supported)");
    return;
  }
  if (op == 1) {
    on_text(c, (const char *)p, len);
  } else if (op == 8) {
    c->close_code = (uint16_t)(len >= 2 ? p[0] << 8 | p[1] : 1005);
    char reason[64];
    snprintf(reason, sizeof reason, "WebSocket closed by the server, code %d", len >= 2 ? p[0] << 8 | p[1] : 1005);
    uint8_t buf[14 + 2];
    memcpy(buf + 14, p, len >= 2 ? 2 : 0);
    send_frame(c, 8, buf, len >= 2 ? 2 : 0);
    conn_fail(c, reason);
  } else if (op == 9 && len <= 125) {
    uint8_t buf[14 + 125];
    memcpy(buf + 14, p, len);
    send_frame(c, 10, buf, len);
  }
}

/* Parses the complete frames in p[0..n); answers how many bytes they took. */
static size_t parse_frames(conn *c, uint8_t *p, size_t n) {
  size_t off = 0;
  while (n - off >= 2 && c->state != C_DEAD) {
    uint8_t *f = p + off;
    uint64_t len = f[1] & 0x7f;
    size_t h = 2;
    if (len == 126) {
      if (n - off < 4) break;
      len = (uint64_t)f[2] << 8 | f[3];
      h = 4;
    } else if (len == 127) {
      if (n - off < 10) break;
      len = 0;
      for (int i = 0; i < 8; i++) len = len << 8 | f[2 + i];
      h = 10;
    }
    bool masked = f[1] & 0x80;
    if (masked) h += 4;
    if (len > IN_MAX) {
      conn_fail(c, "message from the server larger than 1 MiB");
      break;
    }
    if (n - off < h + len) break;
    if (masked) mask(f + h, len, f + h - 4);
    on_frame(c, f[0], f + h, len);
    off += h + len;
  }
  return off;
}

static void consume_in(conn *c, size_t used) {
  memmove(c->in, c->in + used, c->in_len - used);
  c->in_len -= used;
}

static void send_hello(conn *c) {
  uint8_t buf[14 + 512];
  int n = snprintf((char *)buf + 14, sizeof buf - 14,
                   "{\"type\":\"hello\",\"seq\":0,\"deviceId\":\"%s\",\"bootId\":\"%s\",\"firmware\":{\"name\":\"bench\","
                   "\"version\":\"1\"},\"chip\":\"esp32\",\"mac\":\"00:00:00:00:00:01\"}",
                   c->id, cfg.boot_id);
  if (n < 0 || (size_t)n >= sizeof buf - 14) {
    conn_fail(c, "hello too long");
    return;
  }
  c->next_seq = 1;
  if (!send_frame(c, 1, buf, (size_t)n)) conn_fail(c, "hello not sent: output buffer full");
}

/* The upgrade response, once whole: 101, our subprotocol, and the accept key for our key. */
static void on_http(conn *c) {
  uint8_t *end = memmem(c->in, c->in_len, "\r\n\r\n", 4);
  if (!end) {
    if (c->in_len > 16384) conn_fail(c, "HTTP response header too long");
    return;
  }
  *end = 0;
  char *line = (char *)c->in, *save = NULL;
  if (strncmp(line, "HTTP/1.1 101 ", 13) != 0) {
    char reason[64];
    snprintf(reason, sizeof reason, "HTTP %.40s", strchr(line, ' ') ? strchr(line, ' ') + 1 : line);
    char *cr = strchr(reason, '\r');
    if (cr) *cr = 0;
    conn_fail(c, reason);
    return;
  }
  uint8_t digest[20];
  char accept[32], keyed[64];
  snprintf(keyed, sizeof keyed, "%s%s", c->ws_key, WS_GUID);
  EVP_Digest(keyed, strlen(keyed), digest, NULL, EVP_sha1(), NULL);
  EVP_EncodeBlock((unsigned char *)accept, digest, 20);
  bool proto_ok = false, accept_ok = false;
  strtok_r(line, "\r\n", &save);
  for (char *h; (h = strtok_r(NULL, "\r\n", &save));) {
    char *v = strchr(h, ':');
    if (!v) continue;
    for (*v++ = 0; *v == ' ' || *v == '\t'; v++) {
    }
    for (char *e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); *--e = 0) {
    }
    if (strcasecmp(h, "Sec-WebSocket-Protocol") == 0) proto_ok = strcmp(v, "kiln.v1") == 0;
    if (strcasecmp(h, "Sec-WebSocket-Accept") == 0) accept_ok = strcmp(v, accept) == 0;
  }
  if (!proto_ok) {
    conn_fail(c, "upgrade answered without Sec-WebSocket-Protocol: kiln.v1");
    return;
  }
  if (!accept_ok) {
    conn_fail(c, "upgrade answered with a wrong Sec-WebSocket-Accept");
    return;
  }
  consume_in(c, (size_t)(end + 4 - c->in));
  c->state = cfg.raw ? C_OPEN : C_WELCOME;
  on_opened(c);
  if (!cfg.raw) send_hello(c);
  if (c->state == C_DEAD || !c->in_len) return;
  size_t used = parse_frames(c, c->in, c->in_len);
  if (c->state != C_DEAD) consume_in(c, used);
}

static void on_bytes(conn *c, uint8_t *p, size_t n) {
  if (c->state == C_HTTP || c->in_len) {
    if (!append(&c->in, &c->in_len, &c->in_cap, IN_MAX + 16, p, n)) {
      conn_fail(c, "input buffer full");
      return;
    }
    if (c->state == C_HTTP) {
      on_http(c);
      return;
    }
    size_t used = parse_frames(c, c->in, c->in_len);
    if (c->state != C_DEAD) consume_in(c, used);
    return;
  }
  size_t used = parse_frames(c, p, n);
  if (c->state != C_DEAD && used < n && !append(&c->in, &c->in_len, &c->in_cap, IN_MAX + 16, p + used, n - used))
    conn_fail(c, "input buffer full");
}

static void read_some(conn *c) {
  for (;;) {
    ERR_clear_error();
    int r = SSL_read(c->ssl, scratch, sizeof scratch);
    if (r > 0) {
      on_bytes(c, scratch, (size_t)r);
      /* Level-triggered epoll comes back while the socket has more; only OpenSSL's own buffer
         has to be drained here. Saves a read() that would answer EAGAIN on every event. */
      if (c->state == C_DEAD || !SSL_has_pending(c->ssl)) return;
      continue;
    }
    int err = errno, e = SSL_get_error(c->ssl, r);
    if (e == SSL_ERROR_WANT_READ) return;
    if (e == SSL_ERROR_WANT_WRITE) {
      want(c, EPOLLIN | EPOLLOUT);
      return;
    }
    conn_fail(c, ssl_reason(c, e, err));
    return;
  }
}

static void http_begin(conn *c) {
  uint8_t key[16];
  if (getrandom(key, sizeof key, 0) != sizeof key) {
    conn_fail(c, "getrandom failed");
    return;
  }
  EVP_EncodeBlock((unsigned char *)c->ws_key, key, sizeof key);
  char req[4096];
  int n = snprintf(req, sizeof req,
                   "GET %s HTTP/1.1\r\nHost: %s%s%s:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
                   "Sec-WebSocket-Protocol: kiln.v1, kiln.jwt.%s\r\n\r\n",
                   cfg.path, strchr(cfg.host, ':') ? "[" : "", cfg.host, strchr(cfg.host, ':') ? "]" : "", cfg.port,
                   c->ws_key, c->token);
  if (n < 0 || (size_t)n >= sizeof req) {
    conn_fail(c, "upgrade request too long (token?)");
    return;
  }
  c->state = C_HTTP;
  want(c, EPOLLIN);
  if (!append(&c->out, &c->out_len, &c->out_cap, OUT_MAX, req, (size_t)n)) {
    conn_fail(c, "out of memory");
    return;
  }
  flush(c);
}

static void tls_step(conn *c) {
  ERR_clear_error();
  int r = SSL_connect(c->ssl);
  if (r == 1) {
    /* Kept for the next connection, as esp-tls keeps its ticket (TLS 1.2: it came before Finished). */
    SSL_SESSION *s = SSL_get1_session(c->ssl);
    if (s) {
      if (c->session) SSL_SESSION_free(c->session);
      c->session = s;
    }
    if (storm_armed()) storm_on_tls(SSL_session_reused(c->ssl) == 1);
    http_begin(c);
    return;
  }
  int err = errno, e = SSL_get_error(c->ssl, r);
  if (e == SSL_ERROR_WANT_READ) {
    want(c, EPOLLIN);
    return;
  }
  if (e == SSL_ERROR_WANT_WRITE) {
    want(c, EPOLLIN | EPOLLOUT);
    return;
  }
  conn_fail(c, ssl_reason(c, e, err));
}

static void tls_begin(conn *c) {
  c->ssl = SSL_new(ctx);
  if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
    conn_fail(c, "SSL_new failed");
    return;
  }
  SSL_set_connect_state(c->ssl);
  if (storm_resume && c->session) SSL_set_session(c->ssl, c->session);
  /* The gateway's development certificate names 127.0.0.1 (and ::1, localhost): check the name too. */
  if (host_is_ip) {
    X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), cfg.host);
  } else {
    SSL_set_tlsext_host_name(c->ssl, cfg.host);
    SSL_set1_host(c->ssl, cfg.host);
  }
  c->state = C_TLS;
  tls_step(c);
}

void conn_start(conn *c) {
  c->started = mono_ms();
  c->events = 0;
  c->close_code = 0;
  c->state = C_TCP;
  c->fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    conn_fail(c, strerror(errno));
    return;
  }
  int one = 1; /* as ws does: a telemetry frame goes out now, not after the previous one's ACK */
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (struct sockaddr *)&addr, addr_len) < 0 && errno != EINPROGRESS) {
    conn_fail(c, strerror(errno));
    return;
  }
  want(c, EPOLLOUT);
}

void conn_event(conn *c, uint32_t events) {
  switch (c->state) {
  case C_TCP: {
    int err = 0;
    socklen_t l = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
    if (err) {
      conn_fail(c, strerror(err));
      return;
    }
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    if (storm_armed()) storm_on_tcp(c);
    tls_begin(c);
    return;
  }
  case C_TLS:
    tls_step(c);
    return;
  case C_HTTP:
  case C_WELCOME:
  case C_OPEN:
    if (c->out_len) flush(c);
    if (c->state != C_DEAD) read_some(c);
    return;
  default:
    return; /* an event for a connection closed earlier in the same batch */
  }
}
