/**
 * RFC 2217 COM-PORT-OPTION (44) commands, server side. Every client-to-server
 * command N is answered with command N+100 carrying the value now in effect, which
 * is what pyserial's rfc2217 client waits for (SET-BAUDRATE, SET-DATASIZE/PARITY/
 * STOPSIZE at open and at each baud change, SET-CONTROL for DTR/RTS/break/flow
 * control, PURGE-DATA on every reset_input_buffer); a missing answer makes it time out.
 */
import type { HostPort } from '../uart-bridge.ts';

export const ComPort = {
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
  /** Server-to-client codes are the client's plus 100. */
  SERVER_OFFSET: 100,
} as const;

/** SET-CONTROL values (RFC 2217 §"Set Control"). */
export const Control = {
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

/** The serial settings the client sees; only baud rate and the control lines reach the board. */
export class ComPortState {
  dataSize = 8;
  parity = 1; // NONE
  stopSize = 1; // 1 stop bit
  flow: number = Control.FLOW_NONE;
  flowIn: number = Control.FLOW_IN_NONE;
  lineStateMask = 0;
  modemStateMask = 255;
  /** The client asked us to stop sending (FLOWCONTROL-SUSPEND). */
  suspended = false;
}

export interface ComPortAnswer {
  /** Subnegotiation body to send back (after the option byte), if any. */
  reply?: Buffer;
  /** PURGE-DATA asked to drop data queued towards the client. */
  purgeToClient?: boolean;
}

export function handleComPort(body: Buffer, port: HostPort, state: ComPortState): ComPortAnswer {
  const command = body[0];
  const arg = body.subarray(1);
  if (command === undefined) return {};
  const answer = (...bytes: number[]) => ({ reply: Buffer.from([command + ComPort.SERVER_OFFSET, ...bytes]) });
  switch (command) {
    case ComPort.SET_BAUDRATE: {
      if (arg.length >= 4) {
        const baud = arg.readUInt32BE(0);
        if (baud !== 0) port.setBaud(baud); // 0 asks for the current rate
      }
      const out = Buffer.alloc(5);
      out[0] = command + ComPort.SERVER_OFFSET;
      out.writeUInt32BE(port.baud ?? 0, 1);
      return { reply: out };
    }
    case ComPort.SET_DATASIZE:
      if (arg[0] !== undefined && arg[0] >= 5 && arg[0] <= 8) state.dataSize = arg[0];
      return answer(state.dataSize);
    case ComPort.SET_PARITY:
      if (arg[0] !== undefined && arg[0] >= 1 && arg[0] <= 5) state.parity = arg[0];
      return answer(state.parity);
    case ComPort.SET_STOPSIZE:
      if (arg[0] !== undefined && arg[0] >= 1 && arg[0] <= 3) state.stopSize = arg[0];
      return answer(state.stopSize);
    case ComPort.SET_CONTROL:
      return answer(setControl(arg[0] ?? Control.REQ_FLOW, port, state));
    case ComPort.NOTIFY_LINESTATE:
      return answer(0);
    case ComPort.NOTIFY_MODEMSTATE:
      return answer(0); // CTS, DSR, RI and CD are not wired on a DevKit
    case ComPort.FLOWCONTROL_SUSPEND:
      state.suspended = true;
      return {};
    case ComPort.FLOWCONTROL_RESUME:
      state.suspended = false;
      return {};
    case ComPort.SET_LINESTATE_MASK:
      state.lineStateMask = arg[0] ?? 0;
      return answer(state.lineStateMask);
    case ComPort.SET_MODEMSTATE_MASK:
      state.modemStateMask = arg[0] ?? 0;
      return answer(state.modemStateMask);
    case ComPort.PURGE_DATA: {
      const which = arg[0] ?? 0;
      if (which < 1 || which > 3) return {};
      // 1: the server's receive buffer (towards the chip), 2: its transmit buffer (towards the client).
      return { ...answer(which), purgeToClient: which !== 1 };
    }
    default:
      return {};
  }
}

/** Applies a SET-CONTROL value and returns the value to acknowledge. */
function setControl(value: number, port: HostPort, state: ComPortState): number {
  switch (value) {
    case Control.REQ_FLOW:
      return state.flow;
    case Control.FLOW_NONE:
    case Control.FLOW_XONXOFF:
    case Control.FLOW_HARDWARE:
      state.flow = value;
      return value;
    case Control.REQ_BREAK:
      return port.breakOn ? Control.BREAK_ON : Control.BREAK_OFF;
    case Control.BREAK_ON:
    case Control.BREAK_OFF:
      port.setBreak(value === Control.BREAK_ON);
      return value;
    case Control.REQ_DTR:
      return port.lines.dtr ? Control.DTR_ON : Control.DTR_OFF;
    case Control.DTR_ON:
    case Control.DTR_OFF:
      port.setLines({ dtr: value === Control.DTR_ON });
      return value;
    case Control.REQ_RTS:
      return port.lines.rts ? Control.RTS_ON : Control.RTS_OFF;
    case Control.RTS_ON:
    case Control.RTS_OFF:
      port.setLines({ rts: value === Control.RTS_ON });
      return value;
    case Control.REQ_FLOW_IN:
      return state.flowIn;
    default:
      if (value >= Control.FLOW_IN_NONE && value <= 19) state.flowIn = value;
      return value;
  }
}
