/**
 * RFC 2217's COM-PORT-OPTION (Telnet option 44): the command codes and SET-CONTROL
 * values both ends of an `rfc2217://` link use, and the framing of one command. A
 * client sends command N; the server answers N + 100 with the value now in effect.
 */
import { subnegotiation, TelnetOption } from './telnet.ts';

export const ComPortCommand = {
  SET_BAUDRATE: 1,
  SET_DATASIZE: 2,
  SET_PARITY: 3,
  SET_STOPSIZE: 4,
  SET_CONTROL: 5,
  NOTIFY_LINESTATE: 6,
  NOTIFY_MODEMSTATE: 7,
  FLOWCONTROL_SUSPEND: 8,
  FLOWCONTROL_RESUME: 9,
  SET_LINESTATE_MASK: 10,
  SET_MODEMSTATE_MASK: 11,
  PURGE_DATA: 12,
} as const;

/** Server-to-client codes are the client's plus this. */
export const COM_PORT_SERVER_OFFSET = 100;

/** SET-CONTROL values (RFC 2217 "Set Control"). */
export const ComPortControl = {
  REQ_FLOW: 0,
  FLOW_NONE: 1,
  FLOW_XONXOFF: 2,
  FLOW_HARDWARE: 3,
  REQ_BREAK: 4,
  BREAK_ON: 5,
  BREAK_OFF: 6,
  REQ_DTR: 7,
  DTR_ON: 8,
  DTR_OFF: 9,
  REQ_RTS: 10,
  RTS_ON: 11,
  RTS_OFF: 12,
  REQ_FLOW_IN: 13,
  FLOW_IN_NONE: 14,
  FLOW_IN_XOFF: 15,
  FLOW_IN_HARDWARE: 16,
} as const;

/** `IAC SB 44 code value… IAC SE`: a command (client) or its answer (server, code + 100). */
export function comPortFrame(code: number, value: Uint8Array | readonly number[] = []): Buffer {
  return subnegotiation(TelnetOption.COM_PORT, Uint8Array.from([code, ...value]));
}
