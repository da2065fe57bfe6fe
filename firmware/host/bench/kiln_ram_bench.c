/*
 * RAM of the device core, for test/bench/firmware-ram.bench.ts.
 *
 * Heap: the core allocates only through cJSON's allocator (cJSON trees, and kiln_json's
 * copy of a frame that needs fixing goes through cJSON_malloc), so counting hooks on it
 * see every byte the core takes. A busy session runs through the fake port, phase by
 * phase: provisioning over serial (GET_INFO, GET_STATUS, a full 8192-byte SET_CA_CERT in
 * 33 chunks, GET_PUBLIC_KEY, SET_DEVICE_ID), online, a full ring offline, the resend
 * after a reconnect, an ack of a whole batch, commands (a built-in one with args, an
 * application one that fills a result), config, a bad message, console lines.
 * Prints "heap_phase <name> <peak>" for each phase, then "peak_heap_bytes N".
 *
 * Static: "static_part <name> <bytes>" splits the device instance (the one big .bss
 * symbol) into its parts; the script reads .data/.bss from the objects themselves.
 */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cJSON.h"
#include "kiln_device.h"
#include "kiln_device_internal.h"
#include "kiln_fake_port.h"
#include "kiln_rpc.h"

static size_t s_now, s_peak, s_phase_peak;

static void *count_malloc(size_t n)
{
    size_t *p = malloc(n + sizeof(size_t));
    if (p == NULL) return NULL;
    *p = n;
    s_now += n;
    s_peak = s_now > s_peak ? s_now : s_peak;
    s_phase_peak = s_now > s_phase_peak ? s_now : s_phase_peak;
    return p + 1;
}

static void count_free(void *ptr)
{
    if (ptr == NULL) return;
    size_t *p = (size_t *)ptr - 1;
    s_now -= *p;
    free(p);
}

static void phase(const char *name)
{
    printf("heap_phase %s %zu\n", name, s_phase_peak);
    s_phase_peak = s_now;
    fake_clear_output(); /* the fake keeps what was sent; only the last phase's output is needed */
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

/* One RPC request, chunked as a host sends it. */
static void rpc(kiln_device_t *dev, uint8_t method, uint16_t id, const void *data, size_t len)
{
    kiln_rpc_frame_t message = {.kind = KILN_RPC_KIND_REQUEST, .method = method, .id = id,
                                .data = data, .data_len = len};
    for (size_t i = 0; i < kiln_rpc_chunk_count(len); i++) {
        kiln_rpc_frame_t chunk;
        uint8_t line[KILN_RPC_LINE_MAX];
        size_t n = 0;
        if (kiln_rpc_message_chunk(&message, i, &chunk) != KILN_OK ||
            kiln_rpc_frame_encode(&chunk, line, sizeof(line), &n) != KILN_OK) {
            fprintf(stderr, "cannot encode RPC chunk %zu\n", i);
            exit(2);
        }
        kiln_device_serial_input(dev, line, n);
        g_fake.now_ms += 40; /* a 512-byte line at 115200 baud */
        (void)kiln_device_tick(dev);
    }
}

/* An application command that returns a small object, as a real one would. */
static kiln_command_status_t bench_command(void *ctx, const cJSON *args, cJSON *result, char *error, size_t size)
{
    (void)ctx;
    (void)args;
    (void)error;
    (void)size;
    cJSON_AddNumberToObject(result, "kilnTempC", 1187.5);
    cJSON_AddNumberToObject(result, "setpointC", 1200);
    cJSON_AddStringToObject(result, "program", "cone-6-glaze");
    cJSON_AddNumberToObject(result, "segment", 3);
    cJSON_AddBoolToObject(result, "door", 0);
    return KILN_COMMAND_OK;
}

static void print_static_parts(void)
{
    const struct kiln_device *d = NULL;
    size_t parts = sizeof(d->rpc_value) + sizeof(d->tx) + sizeof(d->telemetry.ring) + sizeof(d->telemetry.sources) +
                   sizeof(d->demux) + sizeof(d->settings) + sizeof(d->commands);
    printf("static_part rpc_value(RPC reassembly, KILN_RPC_VALUE_MAX) %zu\n", sizeof(d->rpc_value));
    printf("static_part telemetry.ring(%u samples x %zu B) %zu\n", (unsigned)KILN_TELEMETRY_RING_MAX,
           sizeof(kiln_sample_t), sizeof(d->telemetry.ring));
    printf("static_part tx(send buffer, KILN_DEVICE_TX_MAX) %zu\n", sizeof(d->tx));
    printf("static_part demux(serial line, KILN_SERIAL_LINE_MAX) %zu\n", sizeof(d->demux));
    printf("static_part telemetry.sources(%u metrics) %zu\n", (unsigned)KILN_TELEMETRY_SOURCES_MAX,
           sizeof(d->telemetry.sources));
    printf("static_part settings %zu\n", sizeof(d->settings));
    printf("static_part commands(%u handlers) %zu\n", (unsigned)KILN_DEVICE_COMMANDS_MAX, sizeof(d->commands));
    printf("static_part other(state, timers, config, backoff) %zu\n", sizeof(*d) - parts);
    printf("static_device_bytes %zu\n", sizeof(*d));
}

int main(void)
{
    cJSON_Hooks hooks = {count_malloc, count_free};
    cJSON_InitHooks(&hooks);
    print_static_parts();
    fake_reset();
    fake_kv_put("wifi_ssid", "lab");
    fake_kv_put("wifi_pass", "pw");
    uint8_t key[32];
    memset(key, 0x11, sizeof(key));
    (void)kiln_port_kv_set("p256_d", key, sizeof(key));
    kiln_device_config_t cfg;
    kiln_device_config_default(&cfg);
    cfg.fw_name = "kiln-firmware";
    cfg.fw_version = "0.1.0";
    cfg.telemetry_interval_ms = 1000;
    kiln_device_t *dev = kiln_device_start(&cfg);
    (void)kiln_device_add_command(dev, "kiln_status", bench_command, NULL);
    phase("start");

    /* Provisioning over serial, the largest value the SPEC allows for the CA. */
    static char ca[KILN_RPC_VALUE_MAX];
    memset(ca, 'A', sizeof(ca));
    memcpy(ca, "-----BEGIN CERTIFICATE-----\n", 28);
    for (size_t i = 28 + 64; i < sizeof(ca); i += 65) ca[i] = '\n';
    memcpy(ca + sizeof(ca) - 26, "\n-----END CERTIFICATE-----", 26);
    rpc(dev, KILN_RPC_METHOD_GET_INFO, 1, NULL, 0);
    rpc(dev, KILN_RPC_METHOD_GET_STATUS, 2, NULL, 0);
    rpc(dev, KILN_RPC_METHOD_SET_DEVICE_ID, 3, "bench-device-0001", 17);
    rpc(dev, KILN_RPC_METHOD_SET_GATEWAY, 4, "wss://gw.example:8443/v1/device", 31);
    rpc(dev, KILN_RPC_METHOD_SET_CA_CERT, 5, ca, sizeof(ca));
    rpc(dev, KILN_RPC_METHOD_GET_PUBLIC_KEY, 6, NULL, 0);
    rpc(dev, KILN_RPC_METHOD_GET_STATUS, 7, NULL, 0);
    if (!fake_kv_has("ca_pem")) {
        fprintf(stderr, "SET_CA_CERT did not store the CA\n");
        return 2;
    }
    phase("provisioning_rpc");

    g_fake.wall_set = true;
    ev(dev, KILN_PORT_EVENT_WIFI_CONNECTED, 0, NULL);
    ev(dev, KILN_PORT_EVENT_TIME_SYNCED, 0, NULL);
    run(dev, 100); /* connects: device token */
    ev(dev, KILN_PORT_EVENT_WS_OPEN, 0, NULL);
    const char *welcome =
        "{\"type\":\"welcome\",\"seq\":0,\"serverTime\":1,\"heartbeatSec\":5,\"telemetrySec\":1,\"maxBatch\":64}";
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, welcome);
    run(dev, 5000);
    phase("online");

    ev(dev, KILN_PORT_EVENT_WS_CLOSED, 1006, NULL);
    run(dev, 32000); /* a full ring offline */
    phase("offline");

    ev(dev, KILN_PORT_EVENT_WS_OPEN, 0, NULL);
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, welcome); /* resend: the largest batches */
    phase("resend");

    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0,
       "{\"type\":\"ack\",\"seq\":1,\"acked\":[5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20]}"); /* a whole batch */
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"ack\",\"seq\":2,\"acked\":[1,2,3,4,21,22,23,24,25,26]}");
    phase("acks");

    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0,
       "{\"type\":\"command\",\"seq\":3,\"id\":\"c1\",\"name\":\"ping\",\"args\":{\"a\":[1,2,3],\"b\":{\"c\":\"d\"}}}");
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0,
       "{\"type\":\"command\",\"seq\":4,\"id\":\"c2\",\"name\":\"kiln_status\",\"args\":{\"verbose\":true}}");
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"config\",\"seq\":5,\"telemetrySec\":2,\"extra\":1}");
    ev(dev, KILN_PORT_EVENT_WS_TEXT, 0, "{\"type\":\"telemetry\",\"seq\":6}"); /* device-only: BAD_MESSAGE */
    phase("commands");

    kiln_device_serial_input(dev, (const uint8_t *)"status\ntelemetry now\n", 21);
    run(dev, 6000);
    kiln_device_stats_t st;
    kiln_device_stats(dev, &st);
    printf("samples %u queued %u acked %u sent_in_last_phase %u\n", (unsigned)st.samples, (unsigned)st.queued,
           (unsigned)st.acked, (unsigned)g_fake.sent_count);
    phase("console_and_heartbeat");

    printf("peak_heap_bytes %zu\n", s_peak);
    printf("leaked_heap_bytes %zu\n", s_now);
    fake_reset();
    return s_now == 0 ? 0 : 1;
}
