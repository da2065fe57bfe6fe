# The device core's sources, listed once for both builds: this component's
# CMakeLists.txt (ESP-IDF) and firmware/host/CMakeLists.txt. Relative to this directory.
set(KILN_DEVICE_SOURCES
    src/kiln_backoff.c
    src/kiln_client.c
    src/kiln_device.c
    src/kiln_device_fsm.c
    src/kiln_device_serial.c
    src/kiln_json_out.c
    src/kiln_rpc_server.c
    src/kiln_session.c
    src/kiln_settings.c
    src/kiln_telemetry.c
)
