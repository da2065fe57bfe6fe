/*
 * ESP32 port, the WebSocket client (kiln_port_sys.h) on esp_websocket_client v1.x
 * (esp-protocols components/esp_websocket_client/include/esp_websocket_client.h).
 *
 * - Sec-WebSocket-Protocol: config.subprotocol = "kiln.v1, kiln.jwt.<token>". The client
 *   does not check the server's echo (no header callback before IDF 6), so WS_OPEN means
 *   "handshake done"; the gateway closes a session it did not accept.
 * - TLS: the CA PEM from NVS (cert_pem, NUL-terminated, cert_len 0) when the core names a
 *   key, otherwise the certificate bundle (crt_bundle_attach = esp_crt_bundle_attach,
 *   CONFIG_MBEDTLS_CERTIFICATE_BUNDLE).
 * - disable_auto_reconnect = true: the core owns reconnects and their backoff.
 * - Events (esp_websocket_event_id_t) arrive in the client's task, through
 *   esp_websocket_register_events(): CONNECTED -> WS_OPEN; DATA text frames (op_code 0x1,
 *   continuations 0x0, each possibly cut into several events by payload_offset /
 *   payload_len) are reassembled into one bounded buffer, and a whole message -> WS_TEXT;
 *   DATA op_code 0x8 carries the server's close code (2 bytes, big-endian, as the
 *   esp-protocols example reads it); DISCONNECTED, CLOSED or FINISH -> one WS_CLOSED.
 * - esp_websocket_client_close_with_code(), _stop() and _destroy() must not be called from
 *   the event handler: only the core's task calls them (kiln_port_ws_open/close).
 */
#include <stdatomic.h>
#include <string.h>

#include "esp_crt_bundle.h"
#include "esp_log.h"
#include "esp_websocket_client.h"
#include "kiln_port_esp32_internal.h"

#define WS_TASK_STACK 8192  /* the TLS handshake runs in the client's task */
#define WS_BUFFER_SIZE 2048 /* the frame buffer; CONFIG_WS_BUFFER_SIZE sizes the handshake */
#define WS_SEND_TIMEOUT_MS 2000
#define WS_CLOSE_TIMEOUT_MS 2000
#define CA_PEM_MAX 4096

static const char *TAG = "kiln_ws";
static esp_websocket_client_handle_t s_client;
static char s_ca[CA_PEM_MAX + 1];
static atomic_bool s_closed_reported;
static atomic_int s_close_code;
/* Reassembly, touched only by the client's task. */
static char s_rx[KILN_ESP32_WS_RX_MAX];
static size_t s_rx_len;
static bool s_rx_text, s_rx_overflow;

static void report_closed(int code, const char *why)
{
    if (!atomic_exchange(&s_closed_reported, true)) {
        kiln_esp32_event_post(KILN_PORT_EVENT_WS_CLOSED, code, why, why != NULL ? strlen(why) : 0);
    }
}

static void on_data(const esp_websocket_event_data_t *d)
{
    if (d->op_code == 0x8) {
        const uint8_t *p = (const uint8_t *)d->data_ptr;
        atomic_store(&s_close_code, d->data_len >= 2 ? (p[0] << 8) | p[1] : 1005);
        return;
    }
    if (d->op_code != 0x1 && d->op_code != 0x0) {
        s_rx_text = d->op_code == 0x2 ? false : s_rx_text; /* binary: not ours; ping/pong: skip */
        return;
    }
    if (d->op_code == 0x1 && d->payload_offset == 0) {
        s_rx_len = 0;
        s_rx_text = true;
        s_rx_overflow = false;
    }
    if (!s_rx_text || d->data_len < 0) {
        return;
    }
    if (s_rx_overflow || s_rx_len + (size_t)d->data_len > sizeof(s_rx)) {
        s_rx_overflow = true;
    } else {
        memcpy(s_rx + s_rx_len, d->data_ptr, (size_t)d->data_len);
        s_rx_len += (size_t)d->data_len;
    }
    if (d->fin && d->payload_offset + d->data_len >= d->payload_len) {
        if (s_rx_overflow) {
            ESP_LOGW(TAG, "message over %d bytes dropped", KILN_ESP32_WS_RX_MAX);
        } else {
            kiln_esp32_event_post(KILN_PORT_EVENT_WS_TEXT, 0, s_rx, s_rx_len);
        }
        s_rx_text = false;
        s_rx_len = 0;
    }
}

static void on_ws_event(void *arg, esp_event_base_t base, int32_t id, void *event_data)
{
    (void)arg;
    (void)base;
    const esp_websocket_event_data_t *d = event_data;
    switch (id) {
    case WEBSOCKET_EVENT_CONNECTED:
        kiln_esp32_event_post(KILN_PORT_EVENT_WS_OPEN, 0, NULL, 0);
        break;
    case WEBSOCKET_EVENT_DATA:
        on_data(d);
        break;
    case WEBSOCKET_EVENT_ERROR:
        ESP_LOGW(TAG, "error type %d, handshake status %d, tls 0x%x, errno %d", (int)d->error_handle.error_type,
                 d->error_handle.esp_ws_handshake_status_code, (unsigned)d->error_handle.esp_tls_last_esp_err,
                 d->error_handle.esp_transport_sock_errno);
        break;
    case WEBSOCKET_EVENT_DISCONNECTED:
    case WEBSOCKET_EVENT_CLOSED:
    case WEBSOCKET_EVENT_FINISH:
        report_closed(atomic_load(&s_close_code), id == WEBSOCKET_EVENT_CLOSED ? "closed" : "disconnected");
        break;
    default:
        break;
    }
}

static void destroy_client(void)
{
    if (s_client != NULL) {
        (void)esp_websocket_client_destroy(s_client); /* waits for the client's task to end */
        s_client = NULL;
    }
}

kiln_port_err_t kiln_port_ws_open(const kiln_port_ws_config_t *config)
{
    destroy_client();
    esp_websocket_client_config_t c;
    memset(&c, 0, sizeof(c));
    c.uri = config->url;
    c.subprotocol = config->subprotocols;
    c.disable_auto_reconnect = true;
    c.ping_interval_sec = config->ping_interval_sec;
    c.pingpong_timeout_sec = (int)config->pingpong_timeout_sec;
    c.network_timeout_ms = (int)config->network_timeout_ms;
    c.task_stack = WS_TASK_STACK;
    c.buffer_size = WS_BUFFER_SIZE;
    if (config->ca_kv_key != NULL) {
        size_t len = 0;
        if (kiln_port_kv_get(config->ca_kv_key, s_ca, CA_PEM_MAX, &len) != KILN_PORT_OK) {
            ESP_LOGE(TAG, "CA certificate \"%s\" not readable from NVS", config->ca_kv_key);
            return KILN_PORT_ERR_FAIL;
        }
        s_ca[len] = '\0';
        c.cert_pem = s_ca; /* PEM, NUL-terminated: cert_len stays 0 */
    } else {
        c.crt_bundle_attach = esp_crt_bundle_attach;
    }
    atomic_store(&s_closed_reported, false);
    atomic_store(&s_close_code, 0);
    s_client = esp_websocket_client_init(&c);
    if (s_client == NULL) {
        return KILN_PORT_ERR_FAIL;
    }
    if (esp_websocket_register_events(s_client, WEBSOCKET_EVENT_ANY, on_ws_event, NULL) != ESP_OK ||
        esp_websocket_client_start(s_client) != ESP_OK) {
        destroy_client();
        return KILN_PORT_ERR_FAIL;
    }
    return KILN_PORT_OK;
}

kiln_port_err_t kiln_port_ws_send_text(const char *text, size_t len)
{
    if (s_client == NULL || !esp_websocket_client_is_connected(s_client)) {
        return KILN_PORT_ERR_FAIL;
    }
    /* Sent from this task, blocking up to WS_SEND_TIMEOUT_MS: the client copies nothing. */
    int sent = esp_websocket_client_send_text(s_client, text, (int)len, pdMS_TO_TICKS(WS_SEND_TIMEOUT_MS));
    return sent == (int)len ? KILN_PORT_OK : KILN_PORT_ERR_FAIL;
}

void kiln_port_ws_close(uint16_t code)
{
    if (s_client == NULL) {
        return;
    }
    if (esp_websocket_client_is_connected(s_client)) {
        /* Sends CLOSE, waits for the echo (bounded), then stops the client. */
        (void)esp_websocket_client_close_with_code(s_client, code, NULL, 0, pdMS_TO_TICKS(WS_CLOSE_TIMEOUT_MS));
    } else {
        (void)esp_websocket_client_stop(s_client);
    }
    destroy_client();
    report_closed(code, "closed by the device");
}
