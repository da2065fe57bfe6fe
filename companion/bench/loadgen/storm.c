/*
 * Reconnect storms: the gateway restarts under the fleet and every device comes back by itself,
 * as a Kiln device does (bench/device-role.ts does the same in Node):
 * - the firmware's own reconnect policy, kiln_backoff.c linked in with kiln_device.c's defaults
 *   (after the gateway's 1001, 15 waits of at most 2 s, then the exponential from 1 s to 60 s);
 * - a token per attempt, signed ahead by the caller (a device signs on its own CPU): one is used
 *   up once its attempt's TCP connection is up, an attempt refused before that keeps it;
 * - with resume on, the TLS session the gateway last gave (its ticket) offered again.
 * Commands (loadgen.c reads them):
 *   storm <resume 0|1> <tokens-file>  → {"armed":true}   (`<deviceId> <token>` lines, any number per device)
 *   storm-await <sinceEpochMs>        → {"storm":{"welcomed","ms","attempts","resumed","failedAfter","cpuMs","p50","p90"}}
 * storm-await answers once every device has been welcomed at or after `since` (the new gateway's
 * listening time), or after 60 s with what came.
 */
#include "loadgen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_ATTEMPTS 50
#define AWAIT_MS 60000.0
#define SCAN_MS 5.0
#define MAX_FAILURES (1u << 20)

static const kiln_backoff_config_t FIRMWARE_BACKOFF = {
    .base_ms = 1000, .cap_ms = 60000, .stable_ms = 60000, .restart_cap_ms = 2000, .restart_attempts = 15};

bool storm_resume;
static bool armed, awaiting;
static double since, await_until, cpu0, last_scan;
static uint64_t attempts, resumed;
/* Failed attempts, when they began and why, to tell refusals while the gateway was down from
   later ones (as device-role.ts: an attempt begun before `since` and refused after it is not
   a failure of the new gateway). */
static struct {
  double at;
  uint8_t reason; /* note_failure's number for it (failure_reason) */
} *failures;
static size_t nfailures;
/* The last failure noted is the connection's that storm_on_lost hears of next (conn_fail). */
static bool unpaired;

bool storm_armed(void) { return armed; }
bool storm_awaiting(void) { return awaiting; }

static conn *find(const char *id) {
  /* Once per token line; the file lists the devices in the fleet's order, so from the last
     match the next one is usually the first looked at. */
  static size_t hint;
  for (size_t k = 0; k < nconns; k++) {
    conn *c = &conns[(hint + k) % nconns];
    if (strcmp(c->id, id) == 0) {
      hint = (size_t)(c - conns);
      return c;
    }
  }
  return NULL;
}

void storm_arm(bool resume, const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) {
    perror("loadgen: cannot open the storm tokens file");
    exit(2);
  }
  for (size_t i = 0; i < nconns; i++) {
    conn *c = &conns[i];
    for (size_t t = 0; t < c->ntokens; t++) free(c->tokens[t]);
    free(c->tokens);
    c->tokens = NULL;
    c->ntokens = c->next_token = 0;
    c->retry_at = 0;
    c->welcomed_at = 0;
    c->attempt_at = 0;
    c->tries = 0;
    kiln_backoff_init(&c->backoff, &FIRMWARE_BACKOFF);
    if (c->state == C_OPEN) kiln_backoff_connected(&c->backoff, (uint64_t)mono_ms());
  }
  char *line = NULL;
  size_t lcap = 0;
  while (getline(&line, &lcap, f) > 0) {
    char *id = strtok(line, " \t\r\n"), *token = strtok(NULL, " \t\r\n");
    if (!id) continue;
    conn *c = token ? find(id) : NULL;
    if (!c) {
      fprintf(stderr, "loadgen: storm tokens: `%s` is not a device of this fleet\n", id);
      exit(2);
    }
    char **more = realloc(c->tokens, (c->ntokens + 1) * sizeof *more);
    if (!more) exit(2);
    c->tokens = more;
    c->tokens[c->ntokens++] = strdup(token);
  }
  free(line);
  fclose(f);
  if (!failures) failures = malloc(MAX_FAILURES * sizeof *failures);
  nfailures = 0;
  attempts = resumed = 0;
  storm_resume = resume;
  armed = true;
  answer("{\"armed\":true}");
}

void storm_note_failure(size_t reason) {
  if (!armed || nfailures >= MAX_FAILURES) return;
  failures[nfailures].at = wall_ms();
  failures[nfailures++].reason = (uint8_t)reason;
  unpaired = true;
}

/* The connection ended (a close, a reset, a refusal): the next attempt after the firmware's wait. */
void storm_on_lost(conn *c, int prev) {
  if (unpaired) failures[nfailures - 1].at = c->attempt_at;
  unpaired = false;
  uint64_t now = (uint64_t)mono_ms();
  if (prev == C_OPEN) kiln_backoff_disconnected(&c->backoff, now);
  if (c->close_code == 1001) kiln_backoff_restarting(&c->backoff);
  /* As device-role.ts: a device that failed this often since its last welcome stops trying. */
  c->retry_at = ++c->tries > MAX_ATTEMPTS ? 0 : (double)now + kiln_backoff_next(&c->backoff, rand32()) + 0.001;
}

void storm_on_welcome(conn *c) {
  c->welcomed_at = wall_ms();
  c->tries = 0;
  kiln_backoff_connected(&c->backoff, (uint64_t)mono_ms());
}

void storm_on_tcp(conn *c) {
  if (c->next_token < c->ntokens) c->next_token++;
}

void storm_on_tls(bool reused) {
  if (reused) resumed++;
}

/* A device's next attempt, with its next unused token. */
static void start(conn *c) {
  c->retry_at = 0;
  c->attempt_at = wall_ms();
  if (c->next_token >= c->ntokens) {
    note_failure("no presigned token left for another attempt");
    unpaired = false;
    return;
  }
  c->token = c->tokens[c->next_token];
  attempts++;
  conn_start(c);
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static void await_answer(void) {
  double *at = malloc((nconns + 1) * sizeof *at);
  size_t n = 0;
  for (size_t i = 0; i < nconns; i++)
    if (conns[i].welcomed_at >= since) at[n++] = conns[i].welcomed_at - since;
  qsort(at, n, sizeof *at, cmp_double);
  double ms = n == nconns && n ? at[n - 1] : wall_ms() - since;
  char buf[8192], *p = buf;
  size_t counts[64] = {0};
  for (size_t i = 0; i < nfailures; i++)
    if (failures[i].at >= since) counts[failures[i].reason]++;
  for (size_t r = 0; r < 64; r++)
    if (counts[r] && (size_t)(p - buf) < sizeof buf - 200)
      p += snprintf(p, sizeof buf - (size_t)(p - buf), "%s\"%.120s\":%zu", p == buf ? "" : ",", failure_reason(r),
                    counts[r]);
  *p = 0;
  answer("{\"storm\":{\"welcomed\":%zu,\"ms\":%.3f,\"attempts\":%llu,\"resumed\":%llu,\"failedAfter\":{%s},"
         "\"cpuMs\":%.3f,\"p50\":%.3f,\"p90\":%.3f}}",
         n, ms, (unsigned long long)attempts, (unsigned long long)resumed, buf, cpu_ms() - cpu0,
         n ? at[(size_t)floor(0.5 * (double)n) < n ? (size_t)floor(0.5 * (double)n) : n - 1] : NAN,
         n ? at[(size_t)floor(0.9 * (double)n) < n ? (size_t)floor(0.9 * (double)n) : n - 1] : NAN);
  free(at);
  awaiting = false;
}

void storm_await(double since_ms) {
  since = since_ms;
  cpu0 = cpu_ms();
  await_until = mono_ms() + AWAIT_MS;
  awaiting = true;
  storm_tick();
}

/* After every batch of events: due attempts begin, slow handshakes time out, the await is checked. */
void storm_tick(void) {
  double now = mono_ms();
  if (!armed || now - last_scan < SCAN_MS) return;
  last_scan = now;
  size_t back = 0;
  for (size_t i = 0; i < nconns; i++) {
    conn *c = &conns[i];
    if (c->state == C_DEAD && c->retry_at > 0 && c->retry_at <= now) start(c);
    else fail_if_slow(c, now);
    if (awaiting && c->state == C_OPEN && c->welcomed_at >= since) back++;
  }
  if (awaiting && (back == nconns || now >= await_until)) await_answer();
}
