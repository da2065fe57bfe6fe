/*
 * The Kiln contract, C side (protocol/SPEC.md): one include for the whole core.
 * Every module here is portable C11 with no ESP-IDF headers; platform services
 * come from kiln_port.h.
 */
#pragma once

#include "kiln_base64.h"
#include "kiln_crc32.h"
#include "kiln_err.h"
#include "kiln_format.h"
#include "kiln_improv.h"
#include "kiln_jwt.h"
#include "kiln_message.h"
#include "kiln_rpc.h"
#include "kiln_serial_demux.h"

/** WebSocket subprotocol of the device <-> gateway contract (SPEC.md §1.1). */
#define KILN_PROTOCOL_VERSION "kiln.v1"
/** Version digit of Kiln RPC frame lines (0x01 'K' '1' ':'). */
#define KILN_RPC_VERSION 1
