/* libFuzzer harness: arbitrary UART input to a started device (fake port): the serial
 * demultiplexer, the Kiln RPC server (reassembly, every method), Improv, the console. */
#include <stddef.h>
#include <stdint.h>

#include "kiln_device.h"
#include "kiln_fake_port.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fake_reset();
    kiln_device_config_t cfg;
    kiln_device_config_default(&cfg);
    cfg.fw_name = "fuzz";
    cfg.fw_version = "1";
    kiln_device_t *dev = kiln_device_start(&cfg);
    /* Split the input in two pushes so partial events across calls are exercised too. */
    size_t half = size / 2;
    kiln_device_serial_input(dev, data, half);
    g_fake.now_ms += 200;
    (void)kiln_device_tick(dev);
    kiln_device_serial_input(dev, data + half, size - half);
    fake_reset();
    return 0;
}
