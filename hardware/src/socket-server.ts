/**
 * A raw TCP server for one virtual board: esptool's `--port socket://host:port`.
 * Bytes pass as they are; there are no DTR/RTS lines and no baud rate, so a client
 * cannot reset the chip (esptool switches to `--before no-reset` by itself). One
 * client at a time; a second is disconnected at once.
 */
import { createServer } from 'node:net';
import type { VirtualBoard } from './board.ts';
import { type BoardServer, type ListenAddress, listen } from './tcp-listener.ts';

export function startSocketServer(board: VirtualBoard, address: ListenAddress): Promise<BoardServer> {
  const server = createServer({ noDelay: true }, (socket) => {
    socket.on('error', () => socket.destroy());
    const port = board.connect((data) => {
      if (socket.writable) socket.write(data);
    });
    if (!port) {
      socket.destroy();
      return;
    }
    socket.on('data', (data: Buffer) => port.write(data));
    socket.on('close', () => port.close());
  });
  return listen(server, 'socket', address);
}
