/*
 * Kiln portable layer API, device services: what the device core (kiln_device)
 * needs from a platform besides crypto (kiln_port.h). Each function below must be
 * defined by every port that runs the device: port/esp32 (ESP-IDF), port/host
 * (Linux: simulated Wi-Fi, libwebsockets, a key-value file), and the tests' fake.
 *
 * Threading: the core is single-threaded. Every function here is called from the
 * core's task, and a port reports asynchronous outcomes (Wi-Fi, time sync, the
 * WebSocket) by queueing a kiln_port_event_t that its main loop hands to
 * kiln_device_event() from that same task, never from a driver callback.
 * Functions return at once; none of them blocks for network I/O except the scan.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* --- events a port reports ------------------------------------------------------ */

typedef enum {
    KILN_PORT_EVENT_WIFI_CONNECTED,    /*!< station got an IP address */
    KILN_PORT_EVENT_WIFI_DISCONNECTED, /*!< connect failed or link lost; code = the driver's wifi_err_reason_t */
    KILN_PORT_EVENT_TIME_SYNCED,       /*!< wall clock set (SNTP) */
    KILN_PORT_EVENT_WS_OPEN,           /*!< WebSocket handshake done, the server selected kiln.v1 */
    KILN_PORT_EVENT_WS_TEXT,           /*!< one whole text message: text, len */
    KILN_PORT_EVENT_WS_CLOSED,         /*!< closed or failed; code = close code, 0 if none (network, TLS or handshake failure) */
} kiln_port_event_kind_t;

/** Wi-Fi disconnect reasons the core tells apart (ESP-IDF wifi_err_reason_t values). */
#define KILN_WIFI_REASON_AUTH_EXPIRE           2
#define KILN_WIFI_REASON_4WAY_HANDSHAKE_TIMEOUT 15
#define KILN_WIFI_REASON_BEACON_TIMEOUT        200
#define KILN_WIFI_REASON_NO_AP_FOUND           201
#define KILN_WIFI_REASON_AUTH_FAIL             202
#define KILN_WIFI_REASON_ASSOC_FAIL            203
#define KILN_WIFI_REASON_HANDSHAKE_TIMEOUT     204
#define KILN_WIFI_REASON_CONNECTION_FAIL       205

typedef struct {
    kiln_port_event_kind_t kind;
    int code;          /*!< see kind */
    const char *text;  /*!< WS_TEXT: the message (not NUL-terminated); WS_CLOSED: a reason for the log, or NULL */
    size_t len;
} kiln_port_event_t;

/* --- time, system ------------------------------------------------------------------ */

/** @return milliseconds since boot (monotonic). */
uint64_t kiln_port_uptime_ms(void);

/**
 * @brief The wall clock, in milliseconds since the Unix epoch.
 * @return true once the clock is set (after KILN_PORT_EVENT_TIME_SYNCED), false before.
 */
bool kiln_port_wall_time_ms(int64_t *ms);

/** @brief Starts time sync (SNTP); reports KILN_PORT_EVENT_TIME_SYNCED once the clock is set. */
void kiln_port_time_sync_start(void);

/** @brief Reboots (after flushing the serial output); does not return on a chip. */
void kiln_port_restart(void);

#define KILN_PORT_IDENTIFY_MAX_SEC 60 /*!< longest identify period the core asks for */

/**
 * @brief Makes the board easy to find on a bench for @p seconds (1..KILN_PORT_IDENTIFY_MAX_SEC):
 *        blinks an LED if the board has one, and logs "identify: ..." either way. Returns at once
 *        (the blinking runs on its own); a call while one is running starts the period over.
 */
void kiln_port_identify(uint32_t seconds);

/** @brief Free heap and the lowest it has been since boot, in bytes. */
void kiln_port_heap(uint32_t *free_bytes, uint32_t *min_free_bytes);

/**
 * @brief The chip's temperature sensor.
 * @return true with @p celsius set, false if the chip has no sensor (ESP32) or it failed.
 */
bool kiln_port_chip_temperature(float *celsius);

/** Chip and station MAC, for hello and GET_INFO. */
typedef struct {
    const char *chip;  /*!< SPEC chip name: "esp32", "esp32s3", ... */
    uint8_t mac[6];    /*!< station MAC */
} kiln_port_chip_info_t;

void kiln_port_chip_info(kiln_port_chip_info_t *info);

/* --- the serial link and logs ------------------------------------------------------ */

/** @brief Writes bytes to the UART shared by logs, console, Improv and Kiln RPC (blocking, all of them). */
void kiln_port_serial_write(const void *bytes, size_t len);

typedef enum { KILN_LOG_ERROR = 1, KILN_LOG_WARN, KILN_LOG_INFO, KILN_LOG_DEBUG } kiln_log_level_t;

/**
 * @brief Emits one log line in the platform's format (ESP-IDF: "I (1234) tag: message"),
 *        through the same UART, as one write so it never splits a frame.
 */
void kiln_port_log(kiln_log_level_t level, const char *tag, const char *message);

/* --- storage: a narrow key-value store (NVS on the chip) --------------------------- */

#define KILN_PORT_KV_KEY_MAX 15 /*!< NVS key length limit */

/**
 * @brief Reads the value stored under @p key.
 * @return
 *   - KILN_PORT_OK with *len set
 *   - KILN_PORT_ERR_NOT_FOUND if there is none
 *   - KILN_PORT_ERR_TOO_LARGE if it does not fit @p size
 *   - KILN_PORT_ERR_FAIL if the store failed
 */
kiln_port_err_t kiln_port_kv_get(const char *key, void *buf, size_t size, size_t *len);

/**
 * @brief Stores @p len bytes under @p key, durably, replacing any value.
 * @return KILN_PORT_OK, KILN_PORT_ERR_TOO_LARGE (store full), or KILN_PORT_ERR_FAIL
 */
kiln_port_err_t kiln_port_kv_set(const char *key, const void *value, size_t len);

/** @brief Removes every key of the Kiln namespace (factory reset). @return KILN_PORT_OK or KILN_PORT_ERR_FAIL */
kiln_port_err_t kiln_port_kv_erase_all(void);

/* --- Wi-Fi station ----------------------------------------------------------------- */

/**
 * @brief Starts connecting (and stays connected) to an access point; the outcome comes as
 *        KILN_PORT_EVENT_WIFI_CONNECTED or KILN_PORT_EVENT_WIFI_DISCONNECTED. The core decides
 *        about retries: the port never reconnects on its own.
 * @return KILN_PORT_OK if the attempt started, KILN_PORT_ERR_FAIL if not.
 */
kiln_port_err_t kiln_port_wifi_connect(const char *ssid, const char *password);

/** @brief Disconnects (no event follows). */
void kiln_port_wifi_disconnect(void);

/** @return true with the RSSI of the current AP in dBm, false when not connected. */
bool kiln_port_wifi_rssi(int8_t *rssi);

typedef struct {
    char ssid[33];
    int8_t rssi;
    bool secure; /*!< needs a password */
} kiln_port_ap_t;

/** @brief Scans (blocking, a few seconds on a chip). @return how many APs were written to @p aps. */
size_t kiln_port_wifi_scan(kiln_port_ap_t *aps, size_t max);

/* --- WebSocket client ---------------------------------------------------------------- */

typedef struct {
    const char *url;          /*!< wss://host[:port]/v1/device (ws:// for development) */
    const char *subprotocols; /*!< Sec-WebSocket-Protocol value: "kiln.v1, kiln.jwt.<JWS>" */
    const char *ca_kv_key;    /*!< storage key of the CA PEM to verify the server with; NULL: the platform's bundle */
    uint32_t ping_interval_sec;   /*!< WS ping interval */
    uint32_t pingpong_timeout_sec; /*!< close when no pong for this long */
    uint32_t network_timeout_ms;  /*!< connect and handshake timeout */
} kiln_port_ws_config_t;

/**
 * @brief Opens one connection (at most one at a time); the outcome comes as
 *        KILN_PORT_EVENT_WS_OPEN or KILN_PORT_EVENT_WS_CLOSED. The port never reconnects on its own.
 * @return KILN_PORT_OK if the attempt started, KILN_PORT_ERR_FAIL if not (nothing follows).
 */
kiln_port_err_t kiln_port_ws_open(const kiln_port_ws_config_t *config);

/**
 * @brief Queues one text message on the open connection (copied).
 * @return KILN_PORT_OK, KILN_PORT_ERR_TOO_LARGE if the send queue is full, KILN_PORT_ERR_FAIL if not open.
 */
kiln_port_err_t kiln_port_ws_send_text(const char *text, size_t len);

/** @brief Closes with @p code; KILN_PORT_EVENT_WS_CLOSED follows (if a connection was open or opening). */
void kiln_port_ws_close(uint16_t code);

#ifdef __cplusplus
}
#endif
