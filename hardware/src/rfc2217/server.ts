/**
 * An RFC 2217 access server for one virtual board: what esptool's
 * `--port rfc2217://host:port` and pyserial's rfc2217 client talk to. Telnet with
 * BINARY, SGA and COM-PORT-OPTION negotiated (answers to the client's WILL/DO are what
 * pyserial waits for at open), COM-PORT-OPTION commands acknowledged, data with 0xFF
 * doubled. DTR/RTS changes go straight to the board's auto-reset circuit, which
 * tolerates network latency (auto-reset.ts), so esptool needs no `?ign_set_control`.
 * One client at a time, as a serial port; a second is disconnected at once.
 */
import { createServer, type Socket } from 'node:net';
import { escapeIac, subnegotiation, TelnetCodec, TelnetOption } from '@kiln/protocol/serial/telnet';
import type { VirtualBoard } from '../board.ts';
import { type BoardServer, type ListenAddress, listen } from '../tcp-listener.ts';
import { ROM_BAUD } from '../uart-bridge.ts';
import { ComPortState, handleComPort } from './com-port.ts';

/** Output held while the client has suspended flow; beyond this the oldest is dropped. */
const MAX_SUSPENDED_BYTES = 1 << 20;

export function startRfc2217Server(board: VirtualBoard, address: ListenAddress): Promise<BoardServer> {
  const server = createServer({ noDelay: true }, (socket) => serveClient(board, socket));
  return listen(server, 'rfc2217', address);
}

function serveClient(board: VirtualBoard, socket: Socket): void {
  socket.on('error', () => socket.destroy());
  const state = new ComPortState();
  let held: Buffer[] = [];
  let heldBytes = 0;
  const send = (data: Buffer) => {
    if (!socket.writable) return;
    if (state.suspended) {
      held.push(data);
      heldBytes += data.length;
      while (heldBytes > MAX_SUSPENDED_BYTES && held.length > 1) heldBytes -= held.shift()?.length ?? 0;
      return;
    }
    socket.write(data);
  };
  const port = board.connect((data) => send(escapeIac(data)), { baud: ROM_BAUD });
  if (!port) {
    socket.destroy(); // busy, like a serial port another program has open
    return;
  }
  const options = [TelnetOption.BINARY, TelnetOption.SGA, TelnetOption.COM_PORT];
  const codec = new TelnetCodec({ local: options, remote: options });
  socket.write(codec.requestOptions());
  socket.on('data', (bytes: Buffer) => {
    const { events, reply } = codec.feed(bytes);
    if (reply.length) socket.write(reply);
    for (const event of events) {
      if (event.type === 'data') {
        port.write(event.data);
      } else if (event.type === 'subnegotiation' && event.option === TelnetOption.COM_PORT) {
        const wasSuspended = state.suspended;
        const answer = handleComPort(event.body, port, state);
        if (answer.purgeToClient) {
          held = [];
          heldBytes = 0;
        }
        if (answer.reply) socket.write(subnegotiation(TelnetOption.COM_PORT, answer.reply));
        if (wasSuspended && !state.suspended) {
          for (const chunk of held) socket.write(chunk);
          held = [];
          heldBytes = 0;
        }
      }
    }
  });
  socket.on('close', () => port.close());
}
