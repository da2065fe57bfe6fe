/*
 * Host port, WebSocket client (kiln_port_sys.h) over libwebsockets 4.1 (Debian):
 * WSS verified against the CA PEM the device keeps in storage (RPC SET_CA_CERT),
 * the Sec-WebSocket-Protocol offer "kiln.v1, kiln.jwt.<JWS>", WS pings on the
 * retry policy's idle timer. One lws context per connection (its vhost carries the
 * CA), created and destroyed from the main loop, never inside an lws callback.
 * Everything lws reports becomes a queued event for the core (host_event_push).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libwebsockets.h>

#include "kiln_port_host_internal.h"

#define SEND_QUEUE_MAX 64
#define RX_MAX 65536
#define CA_MAX 8193

static struct lws_context *s_ctx;
static struct lws *s_wsi;
static bool s_established;
static bool s_destroy;          /* the connection ended: destroy the context after servicing */
static int s_close_code;        /* what to send when closing, 0: none pending */
static int s_peer_close_code;   /* what the server's close frame said */
static char s_peer_reason[124];
static uint8_t *s_queue[SEND_QUEUE_MAX];
static size_t s_queue_len[SEND_QUEUE_MAX];
static size_t s_q_head, s_q_count;
static char s_rx[RX_MAX + 1];
static size_t s_rx_len;
static bool s_rx_overflow;
static char s_ca[CA_MAX];
static char s_url[512];
static char s_subprotocols[1024];
static lws_retry_bo_t s_retry;
static int s_wake[2] = {-1, -1};
static pthread_mutex_t s_ctx_lock = PTHREAD_MUTEX_INITIALIZER; /* s_ctx vs host_ws_wake() */

static void queue_clear(void)
{
    while (s_q_count > 0) {
        free(s_queue[s_q_head]);
        s_q_head = (s_q_head + 1) % SEND_QUEUE_MAX;
        s_q_count--;
    }
}

static void ended(int code, const char *why)
{
    if (!s_destroy) {
        host_event_push(KILN_PORT_EVENT_WS_CLOSED, code, why, why != NULL ? strlen(why) : 0);
    }
    s_destroy = true;
    s_wsi = NULL;
    s_established = false;
}

static int callback(struct lws *wsi, enum lws_callback_reasons reason, void *user, void *in, size_t len)
{
    (void)user;
    switch (reason) {
    case LWS_CALLBACK_CLIENT_ESTABLISHED:
        s_established = true;
        host_event_push(KILN_PORT_EVENT_WS_OPEN, 0, NULL, 0);
        if (s_q_count > 0 || s_close_code != 0) {
            lws_callback_on_writable(wsi);
        }
        break;
    case LWS_CALLBACK_CLIENT_RECEIVE:
        if (lws_frame_is_binary(wsi)) {
            break; /* kiln.v1 is text only */
        }
        if (s_rx_len + len > RX_MAX) {
            s_rx_overflow = true;
        } else {
            memcpy(s_rx + s_rx_len, in, len);
            s_rx_len += len;
        }
        if (lws_is_final_fragment(wsi)) {
            if (!s_rx_overflow) {
                host_event_push(KILN_PORT_EVENT_WS_TEXT, 0, s_rx, s_rx_len);
            }
            s_rx_len = 0;
            s_rx_overflow = false;
        }
        break;
    case LWS_CALLBACK_CLIENT_WRITEABLE:
        if (s_close_code != 0) {
            lws_close_reason(wsi, (enum lws_close_status)s_close_code, NULL, 0);
            return -1;
        }
        if (s_q_count > 0) {
            uint8_t *buf = s_queue[s_q_head];
            size_t n = s_queue_len[s_q_head];
            s_q_head = (s_q_head + 1) % SEND_QUEUE_MAX;
            s_q_count--;
            int w = lws_write(wsi, buf + LWS_PRE, n, LWS_WRITE_TEXT);
            free(buf);
            if (w < (int)n) {
                return -1;
            }
            if (s_q_count > 0) {
                lws_callback_on_writable(wsi);
            }
        }
        break;
    case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
        if (len >= 2) {
            const uint8_t *p = in;
            s_peer_close_code = (p[0] << 8) | p[1];
            size_t r = len - 2 < sizeof(s_peer_reason) - 1 ? len - 2 : sizeof(s_peer_reason) - 1;
            memcpy(s_peer_reason, p + 2, r);
            s_peer_reason[r] = '\0';
        }
        break;
    case LWS_CALLBACK_CLIENT_CONNECTION_ERROR:
        ended(0, in != NULL ? (const char *)in : "connection failed");
        break;
    case LWS_CALLBACK_CLIENT_CLOSED:
        ended(s_peer_close_code, s_peer_reason[0] != '\0' ? s_peer_reason : NULL);
        break;
    default:
        break;
    }
    return 0;
}

static const struct lws_protocols s_protocols[] = {
    {"kiln.v1", callback, 0, RX_MAX, 0, NULL, 0},
    {NULL, NULL, 0, 0, 0, NULL, 0},
};

static void destroy_context(void)
{
    if (s_ctx != NULL) {
        pthread_mutex_lock(&s_ctx_lock);
        struct lws_context *ctx = s_ctx;
        s_ctx = NULL;
        pthread_mutex_unlock(&s_ctx_lock);
        lws_context_destroy(ctx);
    }
    queue_clear();
    s_wsi = NULL;
    s_established = false;
    s_destroy = false;
}

static void lws_log_to_stderr(int level, const char *line)
{
    (void)level;
    fprintf(stderr, "lws: %s", line);
}

kiln_port_err_t kiln_port_ws_open(const kiln_port_ws_config_t *config)
{
    destroy_context();
    lws_set_log_level(LLL_ERR, lws_log_to_stderr);
    snprintf(s_url, sizeof(s_url), "%s", config->url);
    snprintf(s_subprotocols, sizeof(s_subprotocols), "%s", config->subprotocols);
    const char *scheme = NULL, *address = NULL, *path = NULL;
    int port = 0;
    char path_buf[520];
    if (lws_parse_uri(s_url, &scheme, &address, &port, &path) != 0) {
        return KILN_PORT_ERR_FAIL;
    }
    bool tls = strcmp(scheme, "wss") == 0;
    snprintf(path_buf, sizeof(path_buf), "/%s", path);

    struct lws_context_creation_info info;
    memset(&info, 0, sizeof(info));
    info.port = CONTEXT_PORT_NO_LISTEN;
    info.protocols = s_protocols;
    info.gid = (gid_t)-1;
    info.uid = (uid_t)-1;
    info.timeout_secs = config->network_timeout_ms / 1000u > 0 ? config->network_timeout_ms / 1000u : 1u;
    info.options = LWS_SERVER_OPTION_DO_SSL_GLOBAL_INIT;
    size_t ca_len = 0;
    if (tls && config->ca_kv_key != NULL &&
        kiln_port_kv_get(config->ca_kv_key, s_ca, sizeof(s_ca) - 1u, &ca_len) == KILN_PORT_OK) {
        s_ca[ca_len] = '\0';
        info.client_ssl_ca_mem = s_ca;
        info.client_ssl_ca_mem_len = (unsigned int)ca_len;
    }
    struct lws_context *ctx = lws_create_context(&info);
    pthread_mutex_lock(&s_ctx_lock);
    s_ctx = ctx;
    pthread_mutex_unlock(&s_ctx_lock);
    if (s_ctx == NULL) {
        return KILN_PORT_ERR_FAIL;
    }
    memset(&s_retry, 0, sizeof(s_retry));
    s_retry.secs_since_valid_ping = (uint16_t)config->ping_interval_sec;
    s_retry.secs_since_valid_hangup = (uint16_t)(config->ping_interval_sec + config->pingpong_timeout_sec);

    struct lws_client_connect_info cc;
    memset(&cc, 0, sizeof(cc));
    cc.context = s_ctx;
    cc.address = address;
    cc.port = port;
    cc.path = path_buf;
    cc.host = address;
    /* No Origin: a device is not a browser (esp_websocket_client sends none either), and the
     * gateway refuses Origins it does not allowlist (its defence against browser pages). */
    cc.origin = NULL;
    cc.ssl_connection = tls ? LCCSCF_USE_SSL : 0;
    cc.protocol = s_subprotocols;         /* sent as Sec-WebSocket-Protocol */
    cc.local_protocol_name = "kiln.v1";   /* the one the server must select */
    cc.retry_and_idle_policy = &s_retry;
    cc.pwsi = &s_wsi;
    s_peer_close_code = 0;
    s_peer_reason[0] = '\0';
    s_close_code = 0;
    s_rx_len = 0;
    if (lws_client_connect_via_info(&cc) == NULL && !s_destroy) {
        destroy_context();
        return KILN_PORT_ERR_FAIL;
    }
    memset(s_subprotocols, 0, sizeof(s_subprotocols)); /* the token is a credential */
    return KILN_PORT_OK;
}

kiln_port_err_t kiln_port_ws_send_text(const char *text, size_t len)
{
    if (s_ctx == NULL || s_wsi == NULL || !s_established || s_close_code != 0) {
        return KILN_PORT_ERR_FAIL;
    }
    if (s_q_count == SEND_QUEUE_MAX) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    uint8_t *buf = malloc(LWS_PRE + len);
    if (buf == NULL) {
        return KILN_PORT_ERR_TOO_LARGE;
    }
    memcpy(buf + LWS_PRE, text, len);
    size_t i = (s_q_head + s_q_count++) % SEND_QUEUE_MAX;
    s_queue[i] = buf;
    s_queue_len[i] = len;
    lws_callback_on_writable(s_wsi);
    return KILN_PORT_OK;
}

void kiln_port_ws_close(uint16_t code)
{
    if (s_ctx == NULL || s_destroy) {
        return;
    }
    if (s_established && s_wsi != NULL) {
        s_close_code = code;
        lws_callback_on_writable(s_wsi);
    } else {
        /* Still connecting: there is no session to close politely. */
        destroy_context();
        host_event_push(KILN_PORT_EVENT_WS_CLOSED, 0, "closed while connecting", 23);
    }
}

bool host_ws_init(void)
{
    if (pipe2(s_wake, O_NONBLOCK | O_CLOEXEC) != 0) {
        return false;
    }
    return true;
}

void host_ws_wake(void)
{
    if (s_wake[1] >= 0) {
        ssize_t n = write(s_wake[1], "x", 1);
        (void)n;
    }
    pthread_mutex_lock(&s_ctx_lock);
    if (s_ctx != NULL) {
        lws_cancel_service(s_ctx);
    }
    pthread_mutex_unlock(&s_ctx_lock);
}

void host_ws_wait(uint32_t timeout_ms)
{
    char drain[64];
    if (s_ctx != NULL) {
        /* Returns after network activity, an lws timer, or lws_cancel_service() (host_ws_wake). */
        lws_service(s_ctx, (int)timeout_ms);
    } else {
        struct pollfd p = {.fd = s_wake[0], .events = POLLIN};
        (void)poll(&p, 1, (int)timeout_ms);
    }
    while (read(s_wake[0], drain, sizeof(drain)) > 0) {
    }
    if (s_destroy) {
        destroy_context();
    }
}

void host_ws_shutdown(void) { destroy_context(); }
