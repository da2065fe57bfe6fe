/*
 * kiln-device: the Kiln firmware core as a Linux process (the host port). The UART
 * is stdin/stdout, or a pty/tty given with --uart; NVS is a key-value file; Wi-Fi
 * is simulated; the WebSocket is libwebsockets + OpenSSL. The virtual board runs
 * this as the app of a flashed image (tools/kiln_image_gen.c writes that image).
 *
 *   kiln-device [--uart PATH] [--nvs FILE] [--wifi ssid:psk[:rssi][,...]] [--chip esp32]
 *               [--mac xx:xx:xx:xx:xx:xx] [--telemetry-ms N] [--heartbeat-ms N]
 *               [--backoff-base-ms N] [--backoff-cap-ms N] [--ring N]
 * Environment: KILN_WIFI, KILN_NVS (defaults for --wifi, --nvs).
 * Exit: 0 when the UART input ends, 2 on a usage error, 1 on a start-up failure.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "kiln_device.h"
#include "kiln_port_host_internal.h"

/* Set by CMake from project(kiln_firmware) and firmware/version.txt, as the chip's
 * esp_app_desc_t has them (the app image kiln-image-gen writes carries the same). */
#ifndef KILN_FW_NAME
#define KILN_FW_NAME "kiln_firmware"
#endif
#ifndef KILN_FW_VERSION
#define KILN_FW_VERSION "0.1.0"
#endif

static pthread_mutex_t s_rx_lock = PTHREAD_MUTEX_INITIALIZER;
static uint8_t s_rx[65536];
static size_t s_rx_len;
static volatile int s_rx_eof;
static int s_in_fd = STDIN_FILENO;

/* The UART receiver: a thread, as the chip's UART driver task, handing bytes to the main loop. */
static void *reader(void *arg)
{
    (void)arg;
    uint8_t buf[4096];
    for (;;) {
        struct pollfd p = {.fd = s_in_fd, .events = POLLIN};
        int r = poll(&p, 1, 50);
        if (r > 0) {
            ssize_t n = read(s_in_fd, buf, sizeof(buf));
            if (n <= 0 && !(n < 0 && errno == EINTR)) {
                s_rx_eof = 1;
                host_ws_wake();
                return NULL;
            }
            pthread_mutex_lock(&s_rx_lock);
            size_t room = sizeof(s_rx) - s_rx_len;
            size_t take = (size_t)n < room ? (size_t)n : room; /* a full FIFO drops, as a UART's does */
            memcpy(s_rx + s_rx_len, buf, take);
            s_rx_len += take;
            pthread_mutex_unlock(&s_rx_lock);
        }
        host_ws_wake(); /* also the main loop's 50 ms tick */
    }
}

static int usage(const char *why)
{
    fprintf(stderr, "kiln-device: %s\nusage: kiln-device [--uart PATH] [--nvs FILE] [--wifi ssid:psk[,...]] "
                    "[--chip NAME] [--mac MAC] [--telemetry-ms N] [--heartbeat-ms N] [--backoff-base-ms N] "
                    "[--backoff-cap-ms N] [--ring N]\n", why);
    return 2;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    host_options_t opt = {.nvs_path = getenv("KILN_NVS"), .wifi = getenv("KILN_WIFI"), .chip = "esp32",
                          .serial_out_fd = STDOUT_FILENO, .argv = argv};
    if (opt.nvs_path == NULL) {
        opt.nvs_path = "kiln-device.nvs";
    }
    kiln_device_config_t cfg;
    kiln_device_config_default(&cfg);
    cfg.fw_name = KILN_FW_NAME;
    cfg.fw_version = KILN_FW_VERSION;
    const char *uart = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (v == NULL) {
            return usage(a);
        }
        i++;
        if (strcmp(a, "--uart") == 0) uart = v;
        else if (strcmp(a, "--nvs") == 0) opt.nvs_path = v;
        else if (strcmp(a, "--wifi") == 0) opt.wifi = v;
        else if (strcmp(a, "--chip") == 0) opt.chip = v;
        else if (strcmp(a, "--mac") == 0) opt.mac = v;
        else if (strcmp(a, "--telemetry-ms") == 0) cfg.telemetry_interval_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--heartbeat-ms") == 0) cfg.heartbeat_interval_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--backoff-base-ms") == 0) cfg.gateway_backoff.base_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--backoff-cap-ms") == 0) cfg.gateway_backoff.cap_ms = (uint32_t)strtoul(v, NULL, 10);
        else if (strcmp(a, "--ring") == 0) cfg.ring_capacity = (size_t)strtoul(v, NULL, 10);
        else return usage(a);
    }
    if (uart != NULL) {
        int fd = open(uart, O_RDWR | O_NOCTTY | O_CLOEXEC);
        if (fd < 0) {
            perror("kiln-device: --uart");
            return 1;
        }
        struct termios t;
        if (tcgetattr(fd, &t) == 0) {
            cfmakeraw(&t);
            (void)tcsetattr(fd, TCSANOW, &t);
        }
        s_in_fd = fd;
        opt.serial_out_fd = fd;
    }
    if (!host_ws_init() || !host_sys_init(&opt)) {
        fprintf(stderr, "kiln-device: start-up failed\n");
        return 1;
    }
    kiln_device_t *dev = kiln_device_start(&cfg);
    if (dev == NULL) {
        fprintf(stderr, "kiln-device: invalid configuration\n");
        return 1;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, reader, NULL) != 0) {
        return 1;
    }
    uint8_t chunk[sizeof(s_rx)];
    while (!s_rx_eof) {
        uint32_t wait = kiln_device_tick(dev);
        host_ws_wait(wait < 50 ? wait : 50);
        pthread_mutex_lock(&s_rx_lock);
        size_t n = s_rx_len;
        memcpy(chunk, s_rx, n);
        s_rx_len = 0;
        pthread_mutex_unlock(&s_rx_lock);
        if (n > 0) {
            kiln_device_serial_input(dev, chunk, n);
        }
        host_sys_poll();
        kiln_port_event_t e;
        while (host_event_pop(&e)) {
            kiln_device_event(dev, &e);
        }
    }
    host_ws_shutdown();
    return 0;
}
