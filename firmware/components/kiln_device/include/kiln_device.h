/*
 * The Kiln device: the state machine that takes a board from unprovisioned to
 * online and keeps it there, the kiln.v1 session, telemetry, and the serial side
 * (Improv Serial, Kiln RPC and console commands on one UART). Portable C11; the
 * platform comes from kiln_port.h and kiln_port_sys.h.
 *
 *   UNPROVISIONED --Wi-Fi credentials--> WIFI_CONNECTING --IP--> TIME_SYNC --clock set-->
 *   GATEWAY_CONNECTING --open + welcome--> ONLINE --closed--> GATEWAY_CONNECTING (backoff) ...
 *   any --close 4003 (revoked)--> ERROR (stays there until re-provisioned over RPC)
 *
 * Every state has a reason (kiln_device_reason_name()) that the console `status`,
 * RPC GET_STATUS and the log report; Wi-Fi failures during Improv provisioning are
 * reported over Improv as "unable to connect".
 *
 * Single instance, single task: kiln_device_start() once, then the port's main loop
 * calls kiln_device_serial_input(), kiln_device_event() and kiln_device_tick() from
 * one task. All state is static (sized by the macros below); outgoing JSON is written
 * straight into a static buffer. The only heap use is cJSON while a gateway message is
 * read (and the tree an application command handler fills), freed before each call returns.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_backoff.h"
#include "kiln_err.h"
#include "kiln_port_sys.h"
#include "kiln_telemetry.h"

#ifdef __cplusplus
extern "C" {
#endif

struct cJSON;

#ifndef KILN_DEVICE_TX_MAX
#define KILN_DEVICE_TX_MAX 2048 /*!< largest kiln.v1 message the device sends; batches are cut to fit */
#endif
#ifndef KILN_DEVICE_COMMANDS_MAX
#define KILN_DEVICE_COMMANDS_MAX 8 /*!< application command handlers */
#endif

typedef enum {
    KILN_STATE_UNPROVISIONED,
    KILN_STATE_WIFI_CONNECTING,
    KILN_STATE_TIME_SYNC,
    KILN_STATE_GATEWAY_CONNECTING,
    KILN_STATE_ONLINE,
    KILN_STATE_ERROR,
} kiln_state_t;

typedef enum {
    KILN_REASON_NONE,
    KILN_REASON_NO_WIFI_CREDENTIALS,
    KILN_REASON_NO_DEVICE_ID,
    KILN_REASON_NO_KEY,
    KILN_REASON_NO_GATEWAY,
    KILN_REASON_WIFI_NO_AP,         /*!< the AP was not found */
    KILN_REASON_WIFI_AUTH_FAILED,   /*!< wrong password (handshake timeout or auth failure) */
    KILN_REASON_WIFI_FAILED,        /*!< any other Wi-Fi failure, or the link was lost */
    KILN_REASON_CONNECTING,         /*!< an attempt is under way */
    KILN_REASON_AWAITING_WELCOME,   /*!< connected, hello sent */
    KILN_REASON_GATEWAY_UNREACHABLE,/*!< connect, TLS or handshake failed; waiting to retry */
    KILN_REASON_GATEWAY_CLOSED,     /*!< the session closed; waiting to retry */
    KILN_REASON_REVOKED,            /*!< close 4003: stopped until re-provisioned */
    KILN_REASON_CLOCK,              /*!< the clock is not set, a token cannot be made */
    KILN_REASON_INTERNAL,           /*!< storage, key or token failure (see the log) */
} kiln_reason_t;

typedef struct {
    const char *fw_name;            /*!< esp_app_desc_t project_name, 1..31 bytes */
    const char *fw_version;         /*!< esp_app_desc_t version, 1..31 bytes */
    uint32_t telemetry_interval_ms; /*!< sampling period until the gateway says otherwise (10 s) */
    uint32_t heartbeat_interval_ms; /*!< app heartbeat (60 s) */
    uint32_t ws_ping_interval_sec;  /*!< WebSocket ping (30 s) */
    uint32_t ws_pong_timeout_sec;   /*!< no pong for this long closes the session (90 s) */
    uint32_t ws_network_timeout_ms; /*!< connect + TLS + handshake (10 s) */
    uint32_t welcome_timeout_ms;    /*!< no welcome after hello closes and retries (15 s) */
    uint32_t wifi_connect_timeout_ms; /*!< Improv provisioning gives up after (30 s, as ESPHome) */
    uint32_t jwt_lifetime_sec;      /*!< exp - iat, 1..300 (120) */
    kiln_backoff_config_t gateway_backoff; /*!< 1 s base, 60 s cap, 60 s stable; after the gateway's 1001, 15 waits of at most 2 s */
    kiln_backoff_config_t wifi_backoff;    /*!< 1 s base, 30 s cap, 60 s stable */
    size_t ring_capacity;           /*!< unacknowledged samples kept (KILN_TELEMETRY_RING_MAX) */
    uint32_t max_batch;             /*!< samples per telemetry_batch, 1..64, lowered by welcome.maxBatch (16) */
    const char *improv_url;         /*!< URL reported when provisioned over Improv; NULL: none */
} kiln_device_config_t;

/** @brief Fills @p config with the defaults noted above. */
void kiln_device_config_default(kiln_device_config_t *config);

typedef struct kiln_device kiln_device_t;

/**
 * @brief Loads the settings from storage, registers the built-in metrics (uptime_ms, heap_free,
 *        heap_min_free, wifi_rssi, reconnects, telemetry_dropped, chip_temp_c) and starts: Wi-Fi
 *        if credentials are stored, otherwise waits for Improv.
 * @return the device, or NULL if @p config is invalid (no firmware name or version).
 */
kiln_device_t *kiln_device_start(const kiln_device_config_t *config);

/** @brief Bytes from the UART: console lines, Improv frames and Kiln RPC lines. */
void kiln_device_serial_input(kiln_device_t *dev, const uint8_t *bytes, size_t len);

/** @brief An event the port queued (Wi-Fi, time, WebSocket). */
void kiln_device_event(kiln_device_t *dev, const kiln_port_event_t *event);

/**
 * @brief Runs what is due (samples, heartbeats, retries, timeouts).
 * @return milliseconds until something is due next (at most 1000): the port may sleep that long.
 */
uint32_t kiln_device_tick(kiln_device_t *dev);

kiln_state_t kiln_device_state(const kiln_device_t *dev);
kiln_reason_t kiln_device_reason(const kiln_device_t *dev);

/** @return "unprovisioned", "wifi_connecting", "time_sync", "gateway_connecting", "online" or "error". */
const char *kiln_device_state_name(kiln_state_t state);

/** @return the reason as snake_case ("" for none), as the console, GET_STATUS and the log spell it. */
const char *kiln_device_reason_name(kiln_reason_t reason);

/**
 * @brief Adds an application metric to every later sample (see kiln_telemetry_add_source()).
 * @return KILN_OK, KILN_ERR_INVALID_ARG (bad or taken name), KILN_ERR_NO_MEM (no room)
 */
kiln_err_t kiln_device_add_metric(kiln_device_t *dev, const char *name, kiln_metric_read_t read, void *ctx);

typedef enum {
    KILN_COMMAND_OK,
    KILN_COMMAND_ERROR,
} kiln_command_status_t;

/**
 * Handles a gateway `command`. @p args is the command's args object (or NULL); the handler may
 * add members to @p result (sent as `result`) and, on error, write a message to @p error.
 */
typedef kiln_command_status_t (*kiln_command_fn_t)(void *ctx, const struct cJSON *args, struct cJSON *result,
                                                   char *error, size_t error_size);

/**
 * @brief Adds a command handler. The built-in names are taken (SPEC §1.3, built-in commands):
 *   - `ping`: answers `ok`.
 *   - `reboot`: answers `ok`, then restarts (kiln_port_restart()) about 500 ms later.
 *   - `telemetry_now`: answers `ok` and takes a sample at once.
 *   - `identify`: args `{"seconds": 1..60}` (optional, default 10), calls kiln_port_identify() and
 *     answers `ok` with result `{"seconds": n}`; another argument, or seconds that is not a whole
 *     number 1..60, answers `error` with a text saying so.
 * The telemetry and heartbeat intervals are not commands: the gateway sets them with `welcome`
 * and `config` messages.
 * @return KILN_OK, KILN_ERR_INVALID_ARG (bad or taken name), KILN_ERR_NO_MEM (no room)
 */
kiln_err_t kiln_device_add_command(kiln_device_t *dev, const char *name, kiln_command_fn_t fn, void *ctx);

/** Counters for status and tests. */
typedef struct {
    uint32_t seq;            /*!< next message seq */
    uint32_t samples;        /*!< samples taken */
    uint32_t dropped;        /*!< unacknowledged samples lost to overflow */
    uint32_t acked;          /*!< samples acknowledged */
    size_t queued;           /*!< samples awaiting an ack */
    uint32_t reconnects;     /*!< gateway sessions lost after being online */
    uint32_t connect_attempts; /*!< gateway connection attempts */
    uint32_t last_backoff_ms;  /*!< the last reconnect wait chosen */
} kiln_device_stats_t;

void kiln_device_stats(const kiln_device_t *dev, kiln_device_stats_t *stats);

#ifdef __cplusplus
}
#endif
