/*
 * The device's state, shared by its modules: kiln_device.c (start, metrics, counters),
 * kiln_device_fsm.c (state machine and timers), kiln_session.c (kiln.v1 session),
 * kiln_device_serial.c (Improv, console) and kiln_rpc_server.c (Kiln RPC), kiln_settings.c
 * (what is kept in storage). One static instance; nothing here is public API.
 */
#pragma once

#include <stdarg.h>

#include "kiln_device.h"
#include "kiln_rpc.h"
#include "kiln_serial_demux.h"

/* Storage keys (NVS: at most 15 characters). */
#define KILN_KV_WIFI_SSID "wifi_ssid"
#define KILN_KV_WIFI_PASS "wifi_pass"
#define KILN_KV_GATEWAY   "gw_url"
#define KILN_KV_CA        "ca_pem"
#define KILN_KV_DEVICE_ID "device_id"
#define KILN_KV_KEY       "p256_d"
#define KILN_KV_REVOKED   "revoked"

#define KILN_URL_MAX 256
#define KILN_SSID_MAX 32
#define KILN_PASS_MAX 64

typedef enum { LINK_DOWN, LINK_CONNECTING, LINK_UP } link_state_t;

typedef struct {
    char name[KILN_METRIC_NAME_MAX + 1];
    kiln_command_fn_t fn;
    void *ctx;
} kiln_command_entry_t;

typedef struct {
    char ssid[KILN_SSID_MAX + 1];
    char pass[KILN_PASS_MAX + 1];
    char url[KILN_URL_MAX + 1];
    char device_id[65];
    uint8_t key[32];
    bool has_key;
    bool has_ca;
    bool revoked;
} kiln_settings_t;

struct kiln_device {
    kiln_device_config_t cfg;
    kiln_state_t state;
    kiln_reason_t reason;
    kiln_settings_t settings;
    char boot_id[17];
    char mac[18];
    const char *chip;
    uint32_t seq;

    link_state_t wifi;
    link_state_t ws;
    bool time_synced;
    bool welcomed;
    bool ws_closed_here;        /*!< this device asked for the close being awaited (kiln_dev_ws_close) */
    bool improv_pending;        /*!< Wi-Fi settings from Improv being tried */
    kiln_reason_t improv_failure; /*!< why the last Improv attempt failed (while unprovisioned) */
    uint64_t improv_deadline_ms;
    uint64_t next_wifi_ms;
    uint64_t next_gateway_ms;
    uint64_t next_sample_ms;
    uint64_t next_heartbeat_ms;
    uint64_t ws_opened_ms;
    uint64_t reboot_at_ms;      /*!< 0: none pending */
    uint32_t telemetry_ms;
    uint32_t heartbeat_ms;
    uint32_t max_batch;
    uint32_t reconnects;
    uint32_t connect_attempts;
    uint32_t last_backoff_ms;
    kiln_backoff_t wifi_backoff;
    kiln_backoff_t gateway_backoff;
    kiln_telemetry_t telemetry;
    kiln_command_entry_t commands[KILN_DEVICE_COMMANDS_MAX];
    size_t command_count;

    kiln_serial_demux_t demux;
    kiln_rpc_assembler_t rpc;
    uint8_t rpc_value[KILN_RPC_VALUE_MAX];
    char tx[KILN_DEVICE_TX_MAX];
};

/* kiln_device.c */
void kiln_dev_log(kiln_device_t *dev, kiln_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/** A random 32-bit value (the port's RNG; the uptime spread out if it fails): backoff jitter. */
uint32_t kiln_dev_random_u32(void);

/* kiln_device_fsm.c */
void kiln_dev_advance(kiln_device_t *dev);
void kiln_dev_settings_changed(kiln_device_t *dev);
void kiln_dev_take_sample(kiln_device_t *dev);
void kiln_dev_factory_reset(kiln_device_t *dev);
void kiln_dev_wifi_connect(kiln_device_t *dev);
/** Closes the gateway session from this side: a 1001 it sends is not the gateway's restart notice. */
void kiln_dev_ws_close(kiln_device_t *dev, uint16_t code);

/* kiln_device_serial.c */
void kiln_dev_serial_init(kiln_device_t *dev);
void kiln_dev_improv_wifi_result(kiln_device_t *dev, bool connected);
void kiln_dev_improv_send_state(kiln_device_t *dev);

/* kiln_settings.c */
void kiln_settings_load(kiln_settings_t *s);
kiln_err_t kiln_settings_save_str(const char *key, const char *value);
kiln_err_t kiln_settings_save_flag(const char *key, bool value);
bool kiln_settings_provisioned(const kiln_settings_t *s, kiln_reason_t *missing);
/** "wss://host:port" of a gateway URL: the audience of the device's tokens. */
void kiln_settings_audience(const char *url, char *out, size_t size);
