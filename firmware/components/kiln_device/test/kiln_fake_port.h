/*
 * A scripted kiln_port_sys.h for the device core's unit tests: a clock the test
 * moves, an in-memory key-value store, captured serial output, and a record of
 * every Wi-Fi and WebSocket call. Deterministic (the RNG is a fixed-seed xorshift).
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_port_sys.h"

#define FAKE_SENT_MAX 256
#define FAKE_SERIAL_MAX 65536

typedef struct {
    uint64_t now_ms;
    bool wall_set;
    int64_t wall_offset_ms;      /*!< wall = offset + now */
    int time_sync_starts;
    int restarts;
    int identifies;              /*!< kiln_port_identify() calls */
    uint32_t identify_seconds;   /*!< the last one's period */
    /* Wi-Fi */
    int wifi_connects;
    char wifi_ssid[33];
    char wifi_pass[65];
    int wifi_disconnects;
    /* WebSocket */
    int ws_opens;
    bool ws_open_fails;
    char ws_url[300];
    char ws_subprotocols[1024];
    char ws_ca_key[16];
    int ws_closes;
    uint16_t ws_close_code;
    size_t sent_count;
    char *sent[FAKE_SENT_MAX];   /*!< text messages sent, NUL-terminated (heap, test only) */
    bool send_fails;
    /* serial */
    uint8_t serial[FAKE_SERIAL_MAX];
    size_t serial_len;
    uint32_t rng;
} fake_port_t;

extern fake_port_t g_fake;

/** @brief Clears everything (store included) and seeds the RNG. */
void fake_reset(void);
/** @brief Empties the recorded sends and serial output (keeps the store). */
void fake_clear_output(void);
/** @brief Puts a string in the store. */
void fake_kv_put(const char *key, const char *value);
/** @brief Whether the store has @p key. */
bool fake_kv_has(const char *key);
/** @brief Serial output contains @p needle. */
bool fake_serial_contains(const char *needle);
