/*
 * Peak heap of the device core: cJSON is the core's only allocator, so counting
 * hooks on it measure everything the core takes from the heap. Runs a busy session
 * through the fake port: provisioning RPCs, online, 32 samples, a resend after a
 * reconnect, acks, commands, bad messages. Prints "peak_heap_bytes N".
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "kiln_device.h"
#include "kiln_fake_port.h"

static size_t s_now, s_peak;

static void *count_malloc(size_t n)
{
    size_t *p = malloc(n + sizeof(size_t));
    if (p == NULL) return NULL;
    *p = n;
    s_now += n;
    s_peak = s_now > s_peak ? s_now : s_peak;
    return p + 1;
}

static void count_free(void *ptr)
{
    if (ptr == NULL) return;
    size_t *p = (size_t *)ptr - 1;
    s_now -= *p;
    free(p);
}

static void ev(kiln_device_t *dev, kiln_port_event_kind_t kind, int code, const char *text)
{
    kiln_port_event_t e = {.kind = kind, .code = code, .text = text, .len = text ? strlen(text) : 0};
    kiln_device_event(dev, &e);
}

static void run(kiln_device_t *dev, uint32_t ms)
{
    for (uint32_t t = 0; t < ms; t += 50) {
        g_fake.now_ms += 50;
        (void)kiln_device_tick(dev);
    }
}

int main(void)
{
    cJSON_Hooks hooks = {count_malloc, count_free};
    cJSON_InitHooks(&hooks);
    fake_reset();
    fake_kv_put("wifi_ssid", "lab");
    fake_kv_put("wifi_pass", "pw");
    fake_kv_put("gw_url", "wss://gw.example:8443/v1/device");
    fake_kv_put("device_id", "bench-device-0001");
    uint8_t key[32];
    memset(key, 0x11, sizeof(key));
    (void)kiln_port_kv_set("p256_d", key, sizeof(key));
    kiln_device_config_t cfg;
    kiln_device_config_default(&cfg);
    cfg.fw_name = "kiln-firmware";
    cfg.fw_version = "0.1.0";
    cfg.telemetry_interval_ms = 1000;
    kiln_device_t *dev = kiln_device_start(&cfg);
    g_fake.wall_set = true;
    ev(dev, KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL);
    ev(dev, KILN_PORT_EVENT_TIME_SYNCED, 0, NULL);
    ev(dev, KILN_PORT_EVENT_WS_OPEN, 0, NULL);
    const char *welcome =
        "{\"type\":\"welcome\",\"seq\":0,\"serverTime\":1,\"heartbeatSec\":5,\"telemetrySec\":1,\"maxBatch\":64}";
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, welcome);
    run(dev, 5000);
    ev(dev, KILN_PORT_EVENT_WS_CLOSED, 1006, NULL);
    run(dev, 32000); /* a full ring offline */
    ev(dev, KILN_PORT_EVENT_WS_OPEN, 0, NULL);
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, welcome); /* resend: the largest batches */
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"ack\",\"seq\":1,\"acked\":[1,2,3,4,5,6,7,8,9,10]}");
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0,
       "{\"type\":\"command\",\"seq\":2,\"id\":\"c1\",\"name\":\"ping\",\"args\":{\"a\":[1,2,3],\"b\":{\"c\":\"d\"}}}");
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"config\",\"seq\":3,\"telemetrySec\":2,\"extra\":1}");
    kiln_device_serial_input(dev, (const uint8_t *)"status\ntelemetry now\n", 21);
    kiln_device_stats_t st;
    kiln_device_stats(dev, &st);
    printf("samples %u queued %u sent_messages %u\n", (unsigned)st.samples, (unsigned)st.queued,
           (unsigned)g_fake.sent_count);
    printf("peak_heap_bytes %zu\n", s_peak);
    printf("leaked_heap_bytes %zu\n", s_now);
    fake_reset();
    return s_now == 0 ? 0 : 1;
}
