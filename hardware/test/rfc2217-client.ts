/**
 * A small RFC 2217 client for tests, behaving like pyserial's: it opens with DO ECHO,
 * WILL/DO SGA and WILL/DO COM-PORT-OPTION, answers the server's requests, collects the
 * COM-PORT answers, and unescapes data.
 */
import { connect, type Socket } from 'node:net';
import { comPortFrame } from '@kiln/protocol/serial/rfc2217';
import { DO, escapeIac, IAC, TelnetCodec, TelnetOption, WILL } from '@kiln/protocol/serial/telnet';

export class Rfc2217TestClient {
  readonly socket: Socket;
  readonly #codec = new TelnetCodec({
    local: [TelnetOption.BINARY, TelnetOption.SGA, TelnetOption.COM_PORT],
    remote: [TelnetOption.BINARY, TelnetOption.SGA],
  });
  data: Buffer[] = [];
  answers: Buffer[] = [];
  closed = false;
  #waiters: (() => void)[] = [];

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.on('data', (bytes: Buffer) => {
      const { events, reply } = this.#codec.feed(bytes);
      if (reply.length) socket.write(reply);
      for (const e of events) {
        if (e.type === 'data') this.data.push(e.data);
        if (e.type === 'subnegotiation' && e.option === TelnetOption.COM_PORT) this.answers.push(e.body);
      }
      this.#wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.#wake();
    });
    socket.on('error', () => {});
  }

  static open(url: string): Promise<Rfc2217TestClient> {
    const { hostname, port } = new URL(url);
    return new Promise((resolve, reject) => {
      const s = connect(Number(port), hostname, () => {
        const c = new Rfc2217TestClient(s);
        s.write(Buffer.from([IAC, DO, 1, IAC, WILL, 3, IAC, DO, 3, IAC, DO, 0x2c, IAC, WILL, 0x2c]));
        resolve(c);
      });
      s.once('error', reject);
    });
  }

  /** Waits until `check` holds, or throws after `ms`. */
  async until(check: () => boolean, ms = 2000): Promise<void> {
    const end = Date.now() + ms;
    while (!check()) {
      if (Date.now() > end) throw new Error('timed out waiting for the server');
      await new Promise<void>((r) => {
        const t = setTimeout(r, 20);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Sends a COM-PORT-OPTION command and waits for its answer (command + 100). */
  async command(command: number, ...value: number[]): Promise<Buffer> {
    const before = this.answers.length;
    this.socket.write(comPortFrame(command, value));
    await this.until(() => this.answers.slice(before).some((a) => a[0] === command + 100));
    return this.answers.slice(before).find((a) => a[0] === command + 100) as Buffer;
  }

  write(data: Uint8Array): void {
    this.socket.write(escapeIac(data));
  }

  take(): Buffer {
    const all = Buffer.concat(this.data);
    this.data = [];
    return all;
  }

  close(): void {
    this.socket.destroy();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }
}
