/*
 * loadgen: a fleet of simulated Kiln devices in one single-threaded process (epoll, non-blocking
 * OpenSSL), for the gateway benchmark. It does on the wire what bench/procs.ts's `devices` role
 * does (that role is the reference: same connect, same hello, same telemetry schedule and text),
 * at a fraction of Node's CPU per message, so the generators take less from the gateway measured
 * on the same cores. bench/native-fleet.ts builds and drives it.
 *
 *   loadgen --host H --port P --path /v1/device --ca FILE --tokens FILE --boot-id HEX [--raw] [--concurrency 64]
 *           [--heartbeat-sec 60]
 *
 * The tokens file holds one `<deviceId> <token>` line per device. Commands on stdin, one a line,
 * each answered by one JSON line on stdout (diagnostics on stderr):
 *   connect                            → {"connect":{"ms","connected","failed","cpuMs"}}
 *   telemetry <ratePerDevice> <batch> <durationMs>
 *                                      → {"telemetry":{"sent","messages","acked","dropped","p50","p99","cpuMs","loopP99","loopMax","hist"}}
 *   storm <resume 0|1> <tokens-file>   → {"armed":true}   (reconnect storms: storm.c)
 *   storm-await <sinceEpochMs>         → {"storm":{…}}
 *   stop                               → {"stop":true}, then exit 0 (EOF: the same, after the commands read)
 * --raw: the raw ws baseline server (bench/procs.ts `ws-baseline`): no hello, `{"seq":S[,"n":B]}` messages.
 * --heartbeat-sec: during a telemetry command each device also sends a heartbeat this often, as a
 * Kiln device does at the welcome's heartbeatSec (60 by default), spread evenly over the fleet and
 * taking a seq of its own as the firmware's do; 0 for none (always none with --raw).
 */
#include "loadgen.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define TICK_MS 10
#define DRAIN_MS 5000.0

struct config cfg = {.host = "127.0.0.1", .path = "/v1/device", .concurrency = 64, .heartbeat_sec = 60};
int epfd;
conn *conns;
size_t nconns;
static int timer_fd;
static char stdin_tag, timer_tag; /* epoll data for the two fds that are not connections */

enum { P_IDLE, P_CONNECT, P_SEND, P_DRAIN } phase;

/* Distinct failure reasons, each printed once, counted for the summary after `connect`. */
struct reason {
  char *text;
  size_t count;
};
static struct reason reasons[64];
static size_t nreasons;

struct connect_cmd { /* the connect command */
  double t0, cpu0, last_scan;
  size_t next, inflight, open, failed;
};
static struct connect_cmd cp;

struct telemetry_cmd { /* the telemetry command */
  double start, end, per_ms, hb_per_ms, cpu0, drain_until;
  uint64_t total, messages, sent, acked, dropped, ticks, heartbeats;
  uint32_t batch;
  conn **list;
  size_t n, cursor, hb_cursor;
  sent_slot *pool;
  float *lat, *late;
  size_t nlat, lat_cap, nlate, late_cap;
  double late_max;
  uint8_t *msg;
};
static struct telemetry_cmd tp;

double mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

double wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* CPU time of this process (user + system), ms. */
double cpu_ms(void) {
  struct rusage u;
  getrusage(RUSAGE_SELF, &u);
  return (double)(u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e3 +
         (double)(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e3;
}

void note_failure(const char *reason) {
  size_t i = 0;
  while (i < nreasons && strcmp(reasons[i].text, reason) != 0) i++;
  if (i == nreasons) {
    if (nreasons == sizeof reasons / sizeof reasons[0]) return; /* 64 kinds: the rest go uncounted */
    fprintf(stderr, "loadgen: connection failed: %s\n", reason);
    reasons[nreasons++] = (struct reason){strdup(reason), 0};
  }
  reasons[i].count++;
  storm_note_failure(i);
}

const char *failure_reason(size_t i) { return i < nreasons ? reasons[i].text : "?"; }

/* The connect command's counts change only while it runs (a storm's reconnects are storm.c's). */
void on_opened(conn *c) {
  if (phase != P_CONNECT) return;
  cp.inflight--; /* upgraded: the next device may begin its handshake (procs.ts frees the slot here too) */
  if (c->state == C_OPEN) cp.open++; /* --raw: no hello, open is connected */
}

void on_welcome(conn *c) {
  if (storm_armed()) storm_on_welcome(c);
  if (phase == P_CONNECT) cp.open++;
}

void on_lost(conn *c, int prev) {
  if (storm_armed()) storm_on_lost(c, prev);
  if (phase != P_CONNECT) return;
  if (prev <= C_HTTP) cp.inflight--;
  if (prev == C_OPEN) cp.open--;
  cp.failed++;
}

void on_ack(conn *c, uint32_t seq, double now) {
  if (!c->ring || seq == 0) return;
  sent_slot *s = &c->ring[seq & c->ring_mask];
  if (s->seq != seq) return; /* not sent in this command, or counted already */
  s->seq = 0;
  if (tp.nlat < tp.lat_cap) tp.lat[tp.nlat++] = (float)(now - tp.start - s->t);
  tp.acked++;
}

void answer(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

/* A number for JSON: NaN (no samples) as null, as JSON.stringify writes it. */
static const char *num(char *buf, double v) {
  if (isnan(v)) return "null";
  snprintf(buf, 32, "%.3f", v);
  return buf;
}

static int cmp_float(const void *a, const void *b) {
  float x = *(const float *)a, y = *(const float *)b;
  return (x > y) - (x < y);
}

/* procs.ts's pct on sorted xs: index floor(p/100·n), clamped. */
static double pct(const float *xs, size_t n, double p) {
  if (n == 0) return NAN;
  size_t i = (size_t)floor(p / 100 * (double)n);
  return xs[i < n ? i : n - 1];
}

/* ---- connect */

void fail_if_slow(conn *c, double now) {
  if (c->state >= C_TCP && c->state <= C_WELCOME && now - c->started > CONNECT_TIMEOUT_MS)
    conn_fail(c, c->state == C_WELCOME ? "no welcome within 30 s" : "connect timed out after 30 s");
}

static void connect_begin(void) {
  cp = (struct connect_cmd){.t0 = mono_ms(), .cpu0 = cpu_ms()};
  for (size_t i = 0; i < nconns; i++) {
    if (conns[i].state == C_DEAD) conns[i].state = C_IDLE; /* a second connect retries the failed */
    if (conns[i].state == C_OPEN) cp.open++;
  }
  for (size_t i = 0; i < nreasons; i++) reasons[i].count = 0;
  phase = P_CONNECT;
}

/* Starts handshakes up to the concurrency, times out slow ones, answers when every device is in or out. */
static void connect_step(void) {
  while (cp.inflight < (size_t)cfg.concurrency && cp.next < nconns) {
    conn *c = &conns[cp.next++];
    if (c->state != C_IDLE) continue;
    cp.inflight++;
    conn_start(c);
  }
  double now = mono_ms();
  if (now - cp.last_scan >= 100) {
    cp.last_scan = now;
    for (size_t i = 0; i < cp.next; i++) fail_if_slow(&conns[i], now);
  }
  if (cp.next < nconns || cp.open + cp.failed < nconns) return;
  for (size_t i = 0; i < nreasons; i++)
    if (reasons[i].count) fprintf(stderr, "loadgen: %zu failed: %s\n", reasons[i].count, reasons[i].text);
  answer("{\"connect\":{\"ms\":%.3f,\"connected\":%zu,\"failed\":%zu,\"cpuMs\":%.3f}}", mono_ms() - cp.t0, cp.open,
         cp.failed, cpu_ms() - cp.cpu0);
  phase = P_IDLE;
}

/* ---- telemetry */

static char *put_s(char *p, const char *s) {
  size_t n = strlen(s);
  memcpy(p, s, n);
  return p + n;
}

static char *put_u(char *p, uint64_t v) {
  char t[24];
  int i = 0;
  do t[i++] = (char)('0' + v % 10);
  while (v /= 10);
  while (i) *p++ = t[--i];
  return p;
}

/* The message text procs.ts sends (JSON.stringify of the same object, so the same bytes). */
static size_t telemetry_text(char *p0, uint32_t seq, uint32_t batch, uint64_t ts) {
  char *p = p0;
  if (cfg.raw) {
    p = put_u(put_s(p, "{\"seq\":"), seq);
    if (batch > 1) p = put_u(put_s(p, ",\"n\":"), batch);
    *p++ = '}';
  } else if (batch == 1) {
    p = put_u(put_s(p, "{\"type\":\"telemetry\",\"seq\":"), seq);
    p = put_u(put_s(p, ",\"ts\":"), ts);
    p = put_s(p, ",\"metrics\":{\"temp\":21.5,\"rssi\":-60}}");
  } else {
    p = put_u(put_s(p, "{\"type\":\"telemetry_batch\",\"seq\":"), seq);
    p = put_s(p, ",\"samples\":[");
    for (uint32_t b = 0; b < batch; b++) {
      p = put_u(put_s(p, b ? ",{\"seq\":" : "{\"seq\":"), (uint64_t)seq + b);
      p = put_u(put_s(p, ",\"ts\":"), ts);
      p = put_s(p, ",\"metrics\":{\"temp\":21.5,\"rssi\":-60}}");
    }
    p = put_s(p, "]}");
  }
  return (size_t)(p - p0);
}

/*
 * The latencies as 1 ms buckets (bench/latency-histogram.ts: bucket i counts [i, i+1) ms, the
 * last one everything from HIST_BUCKETS - 1 ms up), as a JSON array ending at the last non-empty
 * bucket: windows are merged by adding them, for percentiles over a whole sustained run. On
 * sorted latencies. The caller frees it.
 */
#define HIST_BUCKETS 5000
static char *latency_histogram(const float *sorted, size_t n) {
  char *out = malloc((size_t)HIST_BUCKETS * 12 + 3), *p = out;
  if (!out) return NULL;
  *p++ = '[';
  for (size_t i = 0, b = 0; i < n; b++) {
    size_t count = 0;
    while (i < n && (b == HIST_BUCKETS - 1 || sorted[i] < (float)(b + 1))) count++, i++;
    if (b) *p++ = ',';
    p = put_u(p, count);
  }
  *p++ = ']';
  *p = 0;
  return out;
}

static void telemetry_answer(void) {
  char a[32], b[32], c[32], d[32];
  qsort(tp.lat, tp.nlat, sizeof *tp.lat, cmp_float);
  qsort(tp.late, tp.nlate, sizeof *tp.late, cmp_float);
  char *hist = latency_histogram(tp.lat, tp.nlat);
  answer("{\"telemetry\":{\"sent\":%llu,\"messages\":%llu,\"acked\":%llu,\"dropped\":%llu,\"p50\":%s,\"p99\":%s,"
         "\"cpuMs\":%.3f,\"loopP99\":%s,\"loopMax\":%s,\"hist\":%s}}",
         (unsigned long long)tp.sent, (unsigned long long)tp.messages, (unsigned long long)tp.acked,
         (unsigned long long)tp.dropped, num(a, pct(tp.lat, tp.nlat, 50)), num(b, pct(tp.lat, tp.nlat, 99)),
         cpu_ms() - tp.cpu0, num(c, pct(tp.late, tp.nlate, 99)), num(d, tp.nlate ? tp.late_max : NAN),
         hist ? hist : "null");
  free(hist);
  for (size_t i = 0; i < tp.n; i++) tp.list[i]->ring = NULL;
  free(tp.list);
  free(tp.pool);
  free(tp.lat);
  free(tp.late);
  free(tp.msg);
  tp.list = NULL;
  tp.pool = NULL;
  tp.lat = tp.late = NULL;
  tp.msg = NULL;
  phase = P_IDLE;
}

static void telemetry_begin(double rate, uint32_t batch, double duration) {
  tp = (struct telemetry_cmd){.cpu0 = cpu_ms(), .batch = batch ? batch : 1};
  tp.list = malloc((nconns + 1) * sizeof *tp.list);
  for (size_t i = 0; i < nconns; i++)
    if (conns[i].state == C_OPEN) tp.list[tp.n++] = &conns[i];
  if (tp.n == 0 || !(rate > 0) || !(duration > 0)) {
    phase = P_DRAIN;
    telemetry_answer();
    return;
  }
  double period = 1000.0 * tp.batch / rate; /* every device sends once per period */
  tp.per_ms = (double)tp.n / period;
  tp.total = (uint64_t)llround(duration * tp.per_ms);
  tp.hb_per_ms = cfg.raw || cfg.heartbeat_sec <= 0 ? 0 : (double)tp.n / (1000.0 * cfg.heartbeat_sec);
  /* A ring per device big enough for all it sends in this command: a slot is never reused before
     its ack is counted, and no sample costs an allocation. */
  uint64_t per_device = (tp.total + tp.n - 1) / tp.n * tp.batch + tp.batch + 1 +
                        (tp.hb_per_ms > 0 ? (uint64_t)(duration / (1000.0 * cfg.heartbeat_sec)) + 1 : 0);
  uint32_t cap = 8;
  while (cap < per_device) cap *= 2;
  tp.pool = calloc(tp.n * (size_t)cap, sizeof *tp.pool);
  tp.lat_cap = tp.total * tp.batch;
  tp.lat = malloc((tp.lat_cap + 1) * sizeof *tp.lat);
  tp.late_cap = (size_t)(duration / TICK_MS) + 1024;
  tp.late = malloc(tp.late_cap * sizeof *tp.late);
  tp.msg = malloc(14 + 64 + (size_t)tp.batch * 96);
  if (!tp.list || !tp.pool || !tp.lat || !tp.late || !tp.msg) {
    fprintf(stderr, "loadgen: out of memory for the telemetry command\n");
    exit(2);
  }
  for (size_t i = 0; i < tp.n; i++) {
    tp.list[i]->ring = tp.pool + i * cap;
    tp.list[i]->ring_mask = cap - 1;
  }
  tp.start = mono_ms();
  tp.end = tp.start + duration;
  struct itimerspec its = {.it_interval = {0, TICK_MS * 1000000L}, .it_value = {0, TICK_MS * 1000000L}};
  timerfd_settime(timer_fd, 0, &its, NULL);
  phase = P_SEND;
}

static void send_message(void) {
  conn *c = tp.list[tp.cursor++ % tp.n];
  uint32_t seq = c->next_seq;
  c->next_seq += tp.batch;
  double t = mono_ms();
  for (uint32_t b = 0; b < tp.batch; b++) c->ring[(seq + b) & c->ring_mask] = (sent_slot){seq + b, (float)(t - tp.start)};
  tp.sent += tp.batch;
  tp.messages++;
  if (c->state != C_OPEN) return; /* lost meanwhile: sent, never acked (as procs.ts counts it) */
  size_t len = telemetry_text((char *)tp.msg + 14, seq, tp.batch, (uint64_t)llround(wall_ms()));
  if (!conn_send_text(c, tp.msg, len)) tp.dropped++;
}

/* A heartbeat, as kiln_session_tick sends it: the device's next seq, which telemetry then skips. */
static void send_heartbeat(void) {
  conn *c = tp.list[tp.hb_cursor++ % tp.n];
  tp.heartbeats++;
  if (c->state != C_OPEN) return;
  uint32_t seq = c->next_seq++;
  char *p = (char *)tp.msg + 14;
  p = put_u(put_s(p, "{\"type\":\"heartbeat\",\"seq\":"), seq);
  p = put_u(put_s(p, ",\"uptimeMs\":"), (uint64_t)llround(mono_ms()));
  *p++ = '}';
  if (!conn_send_text(c, tp.msg, (size_t)(p - ((char *)tp.msg + 14)))) tp.dropped++;
}

/* Every 10 ms: what is due by the clock, not a fixed count per tick (a late tick still sends what
   the devices would have sent meanwhile); the last tick tops up to the command's whole count. */
static void on_tick(void) {
  uint64_t expirations;
  if (read(timer_fd, &expirations, sizeof expirations) != sizeof expirations || phase != P_SEND) return;
  /* Late from the first tick missed, not the last: a loop busy for 25 ms fired its tick 25 ms late. */
  double now = mono_ms(), late = now - (tp.start + (double)(tp.ticks + 1) * TICK_MS);
  tp.ticks += expirations;
  if (late < 0) late = 0;
  if (tp.nlate < tp.late_cap) tp.late[tp.nlate++] = (float)late;
  if (late > tp.late_max) tp.late_max = late;
  double clock = now < tp.end ? now : tp.end;
  int64_t due = llround((clock - tp.start) * tp.per_ms) - (int64_t)tp.messages;
  if (clock >= tp.end) {
    timerfd_settime(timer_fd, 0, &(struct itimerspec){0}, NULL);
    phase = P_DRAIN;
    tp.drain_until = now + DRAIN_MS;
  }
  for (int64_t k = 0; k < due; k++) send_message();
  int64_t hb_due = llround((clock - tp.start) * tp.hb_per_ms) - (int64_t)tp.heartbeats;
  for (int64_t k = 0; k < hb_due; k++) send_heartbeat();
}

/* ---- commands */

static void stop(void) {
  answer("{\"stop\":true}");
  exit(0); /* the kernel closes every socket at once */
}

static void command(char *line) {
  double rate, duration;
  unsigned batch;
  char extra;
  if (strcmp(line, "connect") == 0) {
    connect_begin();
    return;
  }
  if (sscanf(line, "telemetry %lf %u %lf %c", &rate, &batch, &duration, &extra) == 3) {
    telemetry_begin(rate, batch, duration);
    return;
  }
  if (strcmp(line, "stop") == 0) {
    stop();
    return;
  }
  int resume;
  char path[4096];
  if (sscanf(line, "storm %d %4095[^\n]", &resume, path) == 2 && (resume == 0 || resume == 1)) { /* the rest: a path */
    storm_arm(resume == 1, path);
    return;
  }
  double since;
  if (sscanf(line, "storm-await %lf %c", &since, &extra) == 1 && storm_armed()) {
    storm_await(since);
    return;
  }
  fprintf(stderr, "loadgen: unknown command: %s\n", line);
  answer("{\"error\":\"unknown command\"}");
}

static char inbuf[4096];
static size_t inlen;
static bool in_eof;

static void read_stdin(void) {
  ssize_t r = read(0, inbuf + inlen, sizeof inbuf - 1 - inlen);
  if (r > 0) inlen += (size_t)r;
  else if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
    in_eof = true; /* the commands already read still run (at most one connect's 30 s), then stop */
    epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL);
  }
  if (inlen == sizeof inbuf - 1 && !memchr(inbuf, '\n', inlen)) inlen = 0; /* an absurd line: dropped */
}

/* Runs queued commands while none is in progress. */
static void run_commands(void) {
  char *nl;
  while (phase == P_IDLE && !storm_awaiting() && (nl = memchr(inbuf, '\n', inlen))) {
    *nl = 0;
    char line[sizeof inbuf];
    memcpy(line, inbuf, (size_t)(nl - inbuf) + 1);
    inlen -= (size_t)(nl + 1 - inbuf);
    memmove(inbuf, nl + 1, inlen);
    if (nl > inbuf && line[nl - inbuf - 1] == '\r') line[nl - inbuf - 1] = 0;
    command(line);
  }
  if (phase == P_IDLE && !storm_awaiting() && in_eof) stop();
}

/* ---- start */

static void load_tokens(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    perror("loadgen: cannot open the tokens file");
    exit(2);
  }
  size_t cap = 1024;
  conns = calloc(cap, sizeof *conns);
  char *line = NULL;
  size_t lcap = 0;
  ssize_t n;
  while ((n = getline(&line, &lcap, f)) > 0) {
    char *id = strtok(line, " \t\r\n"), *token = strtok(NULL, " \t\r\n");
    if (!id) continue;
    if (!token || strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._:-") != strlen(id)) {
      fprintf(stderr, "loadgen: tokens file line %zu: want `<deviceId> <token>`\n", nconns + 1);
      exit(2);
    }
    if (nconns == cap) {
      conns = realloc(conns, (cap *= 2) * sizeof *conns);
      memset(conns + nconns, 0, (cap - nconns) * sizeof *conns);
    }
    conns[nconns++] = (conn){.fd = -1, .id = strdup(id), .token = strdup(token), .next_seq = 1};
  }
  free(line);
  fclose(f);
}

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--raw") == 0) {
      cfg.raw = true;
      continue;
    }
    if (!v) goto usage;
    if (strcmp(a, "--host") == 0) cfg.host = v;
    else if (strcmp(a, "--port") == 0) cfg.port = atoi(v);
    else if (strcmp(a, "--path") == 0) cfg.path = v;
    else if (strcmp(a, "--ca") == 0) cfg.ca = v;
    else if (strcmp(a, "--tokens") == 0) cfg.tokens = v;
    else if (strcmp(a, "--boot-id") == 0) cfg.boot_id = v;
    else if (strcmp(a, "--concurrency") == 0) cfg.concurrency = atoi(v);
    else if (strcmp(a, "--heartbeat-sec") == 0) cfg.heartbeat_sec = atoi(v);
    else goto usage;
    i++;
  }
  if (cfg.port <= 0 || !cfg.ca || !cfg.tokens || (!cfg.raw && !cfg.boot_id) || cfg.concurrency <= 0 || cfg.heartbeat_sec < 0) goto usage;
  if (!cfg.boot_id) cfg.boot_id = "0";

  signal(SIGPIPE, SIG_IGN); /* a write to a connection the server closed is an error, not death */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  load_tokens(cfg.tokens);
  if (nconns + 16 > rl.rlim_cur)
    fprintf(stderr, "loadgen: %zu devices but only %llu file descriptors allowed\n", nconns,
            (unsigned long long)rl.rlim_cur);
  net_init();
  epfd = epoll_create1(EPOLL_CLOEXEC);
  timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  struct epoll_event e = {.events = EPOLLIN, .data.ptr = &stdin_tag};
  epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &e);
  e.data.ptr = &timer_tag;
  epoll_ctl(epfd, EPOLL_CTL_ADD, timer_fd, &e);

  struct epoll_event evs[512];
  for (;;) {
    int timeout = phase == P_IDLE ? (storm_armed() ? 5 : -1) : phase == P_CONNECT ? 100 : TICK_MS;
    int n = epoll_wait(epfd, evs, 512, timeout);
    if (n < 0 && errno != EINTR) {
      perror("loadgen: epoll_wait");
      return 2;
    }
    for (int i = 0; i < n; i++) {
      void *p = evs[i].data.ptr;
      if (p == &stdin_tag) read_stdin();
      else if (p == &timer_tag) on_tick();
      else conn_event(p, evs[i].events);
    }
    if (phase == P_CONNECT) connect_step();
    storm_tick();
    if (phase == P_DRAIN && (tp.acked >= tp.sent || mono_ms() >= tp.drain_until)) telemetry_answer();
    run_commands();
  }
usage:
  fprintf(stderr, "usage: loadgen --host H --port P --path /v1/device --ca FILE --tokens FILE --boot-id HEX "
                  "[--raw] [--concurrency 64] [--heartbeat-sec 60]\n");
  return 2;
}
