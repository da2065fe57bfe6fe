# The core's sources, listed once for both builds: this component's CMakeLists.txt
# (ESP-IDF) and firmware/host/CMakeLists.txt (plain CMake). Paths are relative to
# this directory.
set(KILN_PROTOCOL_SOURCES
    src/kiln_base64.c
    src/kiln_crc32.c
    src/kiln_err.c
    src/kiln_format.c
    src/kiln_improv.c
    src/kiln_json.c
    src/kiln_jwt.c
    src/kiln_jwt_sign.c
    src/kiln_message.c
    src/kiln_message_schema.gen.c
    src/kiln_rpc.c
    src/kiln_serial_demux.c
)
