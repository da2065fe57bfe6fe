/*
 * ESP32 port internals shared by its files (console, storage, sys, Wi-Fi, WebSocket).
 * Not part of the port API.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "esp_err.h"
#include "kiln_port_sys.h"

/**
 * @brief Queues an event for the core, from any task (copies @p text, at most
 *        KILN_ESP32_WS_RX_MAX bytes). @return false if the queue is full or memory ran out.
 */
bool kiln_esp32_event_post(kiln_port_event_kind_t kind, int code, const char *text, size_t len);

esp_err_t kiln_esp32_console_start(void); /* kiln_port_esp32_console.c */
esp_err_t kiln_esp32_storage_start(void); /* kiln_port_esp32_storage.c */
esp_err_t kiln_esp32_wifi_start(void);    /* kiln_port_esp32_wifi.c */
esp_err_t kiln_esp32_events_start(void);  /* kiln_port_esp32_sys.c */

/** Largest kiln.v1 message the port reassembles from WebSocket fragments (bigger ones close 1009). */
#ifndef KILN_ESP32_WS_RX_MAX
#define KILN_ESP32_WS_RX_MAX 8192
#endif
