/*
 * ESP32 port, the serial link (kiln_port_sys.h): UART0 carries ESP_LOG output, the
 * core's log lines, console replies, Improv frames and Kiln RPC lines. Everything that
 * goes out takes one lock and is written whole, so an ESP_LOG line from another task
 * (Wi-Fi, esp_websocket_client) never lands inside a core line or frame: ESP_LOG is
 * routed here with esp_log_set_vprintf() (esp_log.h). Bytes in go to the core's serial
 * demultiplexer through kiln_port_esp32_serial_read().
 *
 * APIs (ESP-IDF v5.x): driver/uart.h uart_driver_install(uart_port_t, int rx_buffer_size,
 * int tx_buffer_size, int queue_size, QueueHandle_t *uart_queue, int intr_alloc_flags),
 * uart_read_bytes(uart_port_t, void *buf, uint32_t length, TickType_t) -> int,
 * uart_write_bytes(uart_port_t, const void *src, size_t size) -> int,
 * uart_get_buffered_data_len(uart_port_t, size_t *size); esp_log.h esp_log_set_vprintf(),
 * esp_log_timestamp().
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "driver/uart.h"
#include "esp_log.h"
#include "freertos/FreeRTOS.h"
#include "freertos/semphr.h"
#include "kiln_port_esp32.h"
#include "kiln_port_esp32_internal.h"

#define KILN_UART UART_NUM_0     /* CONFIG_ESP_CONSOLE_UART_DEFAULT: the console UART */
#define UART_RX_BUFFER 4096      /* an RPC burst (SET_CA_CERT chunks) at 115200 fits */
#define LOG_LINE_MAX 256

static SemaphoreHandle_t s_lock;  /* recursive: the UART driver may itself log while we hold it */
static int s_depth;               /* > 1: an ESP_LOG from inside a locked write (dropped) */
static char s_line[LOG_LINE_MAX];

static void write_all(const void *bytes, size_t len)
{
    /* tx_buffer_size 0: uart_write_bytes() returns only once the bytes are in the FIFO. */
    (void)uart_write_bytes(KILN_UART, bytes, len);
}

void kiln_port_serial_write(const void *bytes, size_t len)
{
    if (s_lock == NULL) {
        write_all(bytes, len);
        return;
    }
    xSemaphoreTakeRecursive(s_lock, portMAX_DELAY);
    write_all(bytes, len);
    xSemaphoreGiveRecursive(s_lock);
}

/* ESP_LOG's output function: one call per log line (esp_log_writev), written whole. */
static int log_vprintf(const char *format, va_list args)
{
    xSemaphoreTakeRecursive(s_lock, portMAX_DELAY);
    int n = 0;
    if (++s_depth == 1) {
        n = vsnprintf(s_line, sizeof(s_line), format, args);
        size_t len = n < 0 ? 0 : (size_t)n < sizeof(s_line) ? (size_t)n : sizeof(s_line) - 1;
        if (len == sizeof(s_line) - 1) {
            s_line[len - 1] = '\n'; /* cut, but still a whole line */
        }
        write_all(s_line, len);
    }
    s_depth--;
    xSemaphoreGiveRecursive(s_lock);
    return n;
}

void kiln_port_log(kiln_log_level_t level, const char *tag, const char *message)
{
    /* The ESP-IDF line format, "I (1234) tag: message", as ESP_LOGx prints it (no colours). */
    static const char LETTERS[] = "?EWID";
    char line[LOG_LINE_MAX];
    int n = snprintf(line, sizeof(line), "%c (%lu) %s: %s\n", LETTERS[level > 4 ? 0 : level],
                     (unsigned long)esp_log_timestamp(), tag, message);
    size_t len = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
    if (len == sizeof(line) - 1) {
        line[len - 1] = '\n';
    }
    kiln_port_serial_write(line, len);
}

size_t kiln_port_esp32_serial_read(uint8_t *buf, size_t size, uint32_t timeout_ms)
{
    if (size == 0) {
        return 0;
    }
    /* uart_read_bytes() waits for `length` bytes: wait for one, then take what is buffered. */
    int n = uart_read_bytes(KILN_UART, buf, 1, pdMS_TO_TICKS(timeout_ms));
    if (n <= 0) {
        return 0;
    }
    size_t more = 0;
    if (uart_get_buffered_data_len(KILN_UART, &more) == ESP_OK && more > 0) {
        more = more < size - 1 ? more : size - 1;
        int m = uart_read_bytes(KILN_UART, buf + 1, (uint32_t)more, 0);
        return 1u + (m > 0 ? (size_t)m : 0u);
    }
    return 1;
}

esp_err_t kiln_esp32_console_start(void)
{
    s_lock = xSemaphoreCreateRecursiveMutex();
    if (s_lock == NULL) {
        return ESP_ERR_NO_MEM;
    }
    /* UART0 is already configured (115200 8N1) by the console start-up; only the driver is added. */
    esp_err_t err = uart_driver_install(KILN_UART, UART_RX_BUFFER, 0, 0, NULL, 0);
    if (err != ESP_OK) {
        return err;
    }
    (void)esp_log_set_vprintf(log_vprintf);
    return ESP_OK;
}
