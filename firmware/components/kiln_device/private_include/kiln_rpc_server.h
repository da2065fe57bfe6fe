/* The Kiln RPC server of the device (SPEC.md §2.3): frames in, reassembly, the
 * methods, chunked responses out. */
#pragma once

#include "kiln_device_internal.h"

/** @brief One RPC line from the demultiplexer (a bad frame is answered with id 0, BAD_FRAME). */
void kiln_rpc_server_line(kiln_device_t *dev, const uint8_t *line, size_t len);
