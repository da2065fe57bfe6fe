/*
 * ESP32 port, what app_main needs besides kiln_port.h / kiln_port_sys.h: start the
 * platform services and feed the core from one task. The core (kiln_device) stays
 * single-threaded: drivers (Wi-Fi, SNTP, esp_websocket_client) run in their own tasks
 * and only queue kiln_port_event_t here; app_main's loop hands them to the core.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "esp_err.h"
#include "kiln_port_sys.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @brief Starts the platform side, in this order: the serial console (UART0 driver, ESP_LOG
 *        routed through it), NVS storage (namespace "kiln"), the event queue, Wi-Fi station.
 *        Call after nvs_flash_init(), esp_netif_init() and esp_event_loop_create_default().
 * @return ESP_OK, or the first failing call's error.
 */
esp_err_t kiln_port_esp32_start(void);

/**
 * @brief Reads what the UART received (console lines, Improv, Kiln RPC), waiting up to
 *        @p timeout_ms for the first byte. @return the number of bytes (0 on timeout).
 */
size_t kiln_port_esp32_serial_read(uint8_t *buf, size_t size, uint32_t timeout_ms);

/**
 * @brief Takes the next queued platform event without waiting. @p e->text stays valid until
 *        the next call. @return false if there is none.
 */
bool kiln_port_esp32_event_take(kiln_port_event_t *e);

#ifdef __cplusplus
}
#endif
