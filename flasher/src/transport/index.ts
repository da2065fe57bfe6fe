/** Picks the Transport for a port as the user wrote it (DESIGN.md: every port form, everywhere). */
import { Rfc2217Transport } from './rfc2217.ts';
import { SerialTransport, type SerialTransportOptions } from './serial.ts';
import { SocketTransport } from './socket.ts';
import type { Transport } from './types.ts';

export function createTransport(port: string, serialOptions: SerialTransportOptions = {}): Transport {
  if (/^rfc2217:\/\//i.test(port)) return new Rfc2217Transport(port);
  if (/^socket:\/\//i.test(port)) return new SocketTransport(port);
  return new SerialTransport(port, serialOptions);
}

export { Rfc2217Transport } from './rfc2217.ts';
export { SerialTransport, type SerialTransportOptions } from './serial.ts';
export { SocketTransport } from './socket.ts';
export type { PortUsbInfo, SerialLines, Transport, TransportKind } from './types.ts';
export { WebSerialPort } from './web-serial.ts';
