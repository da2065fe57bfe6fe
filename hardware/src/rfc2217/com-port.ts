/**
 * RFC 2217 COM-PORT-OPTION (44) commands, server side. Every client-to-server
 * command N is answered with command N+100 carrying the value now in effect, which
 * is what pyserial's rfc2217 client waits for (SET-BAUDRATE, SET-DATASIZE/PARITY/
 * STOPSIZE at open and at each baud change, SET-CONTROL for DTR/RTS/break/flow
 * control, PURGE-DATA on every reset_input_buffer); a missing answer makes it time out.
 */
import { COM_PORT_SERVER_OFFSET, ComPortCommand, ComPortControl } from '@kiln/protocol/serial/rfc2217';
import type { HostPort } from '../uart-bridge.ts';

/** The serial settings the client sees; only baud rate and the control lines reach the board. */
export class ComPortState {
  dataSize = 8;
  parity = 1; // NONE
  stopSize = 1; // 1 stop bit
  flow: number = ComPortControl.FLOW_NONE;
  flowIn: number = ComPortControl.FLOW_IN_NONE;
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
  const answer = (...bytes: number[]) => ({ reply: Buffer.from([command + COM_PORT_SERVER_OFFSET, ...bytes]) });
  switch (command) {
    case ComPortCommand.SET_BAUDRATE: {
      if (arg.length >= 4) {
        const baud = arg.readUInt32BE(0);
        if (baud !== 0) port.setBaud(baud); // 0 asks for the current rate
      }
      const out = Buffer.alloc(5);
      out[0] = command + COM_PORT_SERVER_OFFSET;
      out.writeUInt32BE(port.baud ?? 0, 1);
      return { reply: out };
    }
    case ComPortCommand.SET_DATASIZE:
      if (arg[0] !== undefined && arg[0] >= 5 && arg[0] <= 8) state.dataSize = arg[0];
      return answer(state.dataSize);
    case ComPortCommand.SET_PARITY:
      if (arg[0] !== undefined && arg[0] >= 1 && arg[0] <= 5) state.parity = arg[0];
      return answer(state.parity);
    case ComPortCommand.SET_STOPSIZE:
      if (arg[0] !== undefined && arg[0] >= 1 && arg[0] <= 3) state.stopSize = arg[0];
      return answer(state.stopSize);
    case ComPortCommand.SET_CONTROL:
      return answer(setControl(arg[0] ?? ComPortControl.REQ_FLOW, port, state));
    case ComPortCommand.NOTIFY_LINESTATE:
      return answer(0);
    case ComPortCommand.NOTIFY_MODEMSTATE:
      return answer(0); // CTS, DSR, RI and CD are not wired on a DevKit
    case ComPortCommand.FLOWCONTROL_SUSPEND:
      state.suspended = true;
      return {};
    case ComPortCommand.FLOWCONTROL_RESUME:
      state.suspended = false;
      return {};
    case ComPortCommand.SET_LINESTATE_MASK:
      state.lineStateMask = arg[0] ?? 0;
      return answer(state.lineStateMask);
    case ComPortCommand.SET_MODEMSTATE_MASK:
      state.modemStateMask = arg[0] ?? 0;
      return answer(state.modemStateMask);
    case ComPortCommand.PURGE_DATA: {
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
    case ComPortControl.REQ_FLOW:
      return state.flow;
    case ComPortControl.FLOW_NONE:
    case ComPortControl.FLOW_XONXOFF:
    case ComPortControl.FLOW_HARDWARE:
      state.flow = value;
      return value;
    case ComPortControl.REQ_BREAK:
      return port.breakOn ? ComPortControl.BREAK_ON : ComPortControl.BREAK_OFF;
    case ComPortControl.BREAK_ON:
    case ComPortControl.BREAK_OFF:
      port.setBreak(value === ComPortControl.BREAK_ON);
      return value;
    case ComPortControl.REQ_DTR:
      return port.lines.dtr ? ComPortControl.DTR_ON : ComPortControl.DTR_OFF;
    case ComPortControl.DTR_ON:
    case ComPortControl.DTR_OFF:
      port.setLines({ dtr: value === ComPortControl.DTR_ON });
      return value;
    case ComPortControl.REQ_RTS:
      return port.lines.rts ? ComPortControl.RTS_ON : ComPortControl.RTS_OFF;
    case ComPortControl.RTS_ON:
    case ComPortControl.RTS_OFF:
      port.setLines({ rts: value === ComPortControl.RTS_ON });
      return value;
    case ComPortControl.REQ_FLOW_IN:
      return state.flowIn;
    default:
      if (value >= ComPortControl.FLOW_IN_NONE && value <= 19) state.flowIn = value;
      return value;
  }
}
