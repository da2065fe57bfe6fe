/*
 * Host port internals shared by kiln_port_host_sys.c (time, storage, simulated
 * Wi-Fi, serial), kiln_port_host_ws.c (libwebsockets) and the kiln-device main
 * loop. Not part of the port API.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kiln_port_sys.h"

typedef struct {
    const char *nvs_path;  /*!< the key-value file (the NVS stand-in) */
    const char *wifi;      /*!< "ssid:psk[:rssi][,ssid:psk[:rssi]]..." networks in range */
    const char *chip;      /*!< SPEC chip name reported (esp32) */
    const char *mac;       /*!< station MAC, xx:xx:xx:xx:xx:xx; NULL: derived from the NVS path */
    int serial_out_fd;     /*!< where serial output goes (stdout or the pty) */
    char **argv;           /*!< for the simulated reboot (re-exec) */
} host_options_t;

/** @brief Loads the key-value file and the simulated networks. @return false (with a message on stderr) on failure. */
bool host_sys_init(const host_options_t *options);

/** @brief Queues an event for the device (copies @p text). */
void host_event_push(kiln_port_event_kind_t kind, int code, const char *text, size_t len);

/**
 * @brief Takes the next queued event. @p e->text points into a buffer that stays valid until the
 *        next call. @return false if the queue is empty.
 */
bool host_event_pop(kiln_port_event_t *e);

/** @brief Runs simulated timers (Wi-Fi, SNTP) that are due, queueing their events. */
void host_sys_poll(void);

/** @brief Waits up to @p timeout_ms for network activity or host_ws_wake(), servicing the WebSocket. */
void host_ws_wait(uint32_t timeout_ms);

/** @brief Wakes host_ws_wait() from another thread. */
void host_ws_wake(void);

/** @brief Sets up the wake pipe. @return false on failure. */
bool host_ws_init(void);

/** @brief Tears the connection down (before exit or the simulated reboot). */
void host_ws_shutdown(void);
