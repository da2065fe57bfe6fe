/**
 * The TLS front (tls-front/): a thread that listens and terminates TLS, and hands the event
 * loop's plain HTTP server each connection as a stream of plaintext. What the gateway relies
 * on: HTTP and keep-alive as over a socket, the peer's address, writes held while a peer does
 * not read (ws' bufferedAmount grows, so the send-queue policies see it), reads paused while
 * the server does not take them, listen errors as the operator should read them, a clean
 * stop, and a new thread on the same port if one ends.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { Agent, request } from 'node:https';
import { createServer as createNetServer } from 'node:net';
import { Writable } from 'node:stream';
import { type TLSSocket, connect as tlsConnect } from 'node:tls';
import { Worker } from 'node:worker_threads';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { WebSocket, WebSocketServer } from 'ws';
import { ConfigError } from '../src/errors.ts';
import type { Logger } from '../src/log.ts';
import { SecretBox } from '../src/secrets.ts';
import { ensureDevTls } from '../src/tls.ts';
import type { FrontSocket } from '../src/tls-front/front-socket.ts';
import { TlsFront } from '../src/tls-front/tls-front.ts';
import { type Cleanups, runCleanups, silent, tempDir } from './helpers.ts';

const cleanups: Cleanups = [];
afterEach(() => runCleanups(cleanups));

function material() {
  const dir = tempDir('kiln-front-');
  cleanups.push(() => dir.remove());
  const tls = ensureDevTls(dir.dir, new SecretBox(randomBytes(32)));
  return { tls, ca: readFileSync(tls.caPath as string) };
}

async function front(
  server: Server,
  opts: { port?: number; onThread?: (w: Worker, restart: boolean) => void; log?: Logger } = {},
) {
  const { tls, ca } = material();
  const sockets: FrontSocket[] = [];
  const f = await TlsFront.start(
    {
      tls: { cert: tls.cert, key: tls.key, minVersion: 'TLSv1.2' },
      at: { host: '127.0.0.1', port: opts.port ?? 0 },
      flag: '--listen',
      backlog: 511,
    },
    (s) => {
      sockets.push(s);
      server.emit('connection', s);
    },
    opts.log ?? silent,
    opts.onThread,
  );
  server.emit('listening');
  cleanups.push(() => f.close());
  return { f, ca, sockets };
}

function get(port: number, ca: Buffer, path: string, agent?: Agent): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, ...(agent ? { agent } : { agent: false }) }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.end();
  });
}

function tlsClient(port: number, ca: Buffer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const s = tlsConnect({ host: '127.0.0.1', port, ca, servername: 'localhost' }, () => resolve(s));
    s.once('error', reject);
  });
}

describe('TLS front', () => {
  it('serves HTTPS through its thread, over kept-alive connections, with the peer address and encrypted set', async () => {
    const server = createServer((req, res) => {
      const s = req.socket as unknown as { remoteAddress: string; encrypted: boolean };
      res.end(JSON.stringify({ path: req.url, ip: s.remoteAddress, encrypted: s.encrypted }));
    });
    const { f, ca, sockets } = await front(server);
    const keep = new Agent({ keepAlive: true, ca });
    cleanups.push(() => keep.destroy());
    const a = await get(f.port, ca, '/one', keep);
    const b = await get(f.port, ca, '/two', keep);
    expect(JSON.parse(a.body)).toEqual({ path: '/one', ip: '127.0.0.1', encrypted: true });
    expect(JSON.parse(b.body)).toEqual({ path: '/two', ip: '127.0.0.1', encrypted: true });
    expect(sockets).toHaveLength(1); // the second request came over the same connection
    expect(f.connections).toBe(1);
  });

  it("closes an idle kept-alive connection after the server's keepAliveTimeout", async () => {
    const server = createServer((_req, res) => res.end('ok'));
    server.keepAliveTimeout = 200;
    const { f, ca } = await front(server);
    const keep = new Agent({ keepAlive: true, ca });
    cleanups.push(() => keep.destroy());
    await get(f.port, ca, '/', keep);
    expect(f.connections).toBe(1);
    const deadline = Date.now() + 5000;
    while (f.connections > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(f.connections).toBe(0);
  });

  it('holds writes while the peer does not read (bufferedAmount grows), then delivers them all in order', async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server, perMessageDeflate: false });
    const { f, ca } = await front(server);
    const opened = once(wss, 'connection') as Promise<[WebSocket]>;
    const client = new WebSocket(`wss://127.0.0.1:${f.port}/`, { ca, perMessageDeflate: false });
    cleanups.push(() => client.terminate());
    const [ws] = await opened;
    await once(client, 'open');
    // The client stops reading: its socket is paused, so the kernel's buffers fill, then the
    // thread's TLS socket passes its high-water mark and the loop holds what follows.
    (client as unknown as { _socket: TLSSocket })._socket.pause();
    let sent = 0;
    while (ws.bufferedAmount < 4 * 1024 * 1024 && sent < 2000) {
      // A frame of its own each time: ws holds what it has not written, it does not copy it.
      const frame = Buffer.alloc(64 * 1024, 7);
      frame.writeUInt32BE(sent, 0);
      ws.send(frame);
      sent++;
      if (sent % 16 === 0) await new Promise((r) => setTimeout(r, 5));
    }
    expect(ws.bufferedAmount).toBeGreaterThanOrEqual(4 * 1024 * 1024);
    expect(sent).toBeLessThan(2000); // bounded well before everything was sent
    const got: number[] = [];
    const all = new Promise<void>((resolve) =>
      client.on('message', (d: Buffer) => {
        got.push(d.readUInt32BE(0));
        if (got.length === sent) resolve();
      }),
    );
    (client as unknown as { _socket: TLSSocket })._socket.resume();
    await all;
    expect(got).toEqual(Array.from({ length: sent }, (_, i) => i));
    expect(ws.bufferedAmount).toBe(0);
  });

  it('stops reading from a peer while the server does not take its bytes, and loses none', async () => {
    let body: FrontSocket | undefined;
    let received = 0;
    let release: (() => void) | undefined;
    const server = createServer((req, res) => {
      body = req.socket as unknown as FrontSocket;
      release = () => {
        req.on('data', (c: Buffer) => {
          received += c.length;
        });
        req.on('end', () => res.end(String(received)));
      };
    });
    const { f, ca } = await front(server);
    const total = 32 * 1024 * 1024;
    const reply = new Promise<string>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port: f.port, path: '/', method: 'POST', ca, agent: false }, (res) => {
        let t = '';
        res.on('data', (c: Buffer) => {
          t += c;
        });
        res.on('end', () => resolve(t));
      });
      req.on('error', reject);
      const chunk = Buffer.alloc(256 * 1024, 1);
      let left = total / chunk.length;
      const pump = () => {
        while (left > 0) {
          left--;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
    while (!body) await new Promise((r) => setTimeout(r, 20));
    await new Promise((r) => setTimeout(r, 500));
    // What waits on the loop's side is bounded: the thread stopped reading.
    expect(body.readableLength).toBeLessThan(4 * 1024 * 1024);
    release?.();
    expect(await reply).toBe(String(total));
  });

  it('reads only a few batches ahead of a slow event loop (the rest waits at the peer), and loses nothing', async () => {
    const server = createServer();
    const wss = new WebSocketServer({ server, perMessageDeflate: false });
    const { f, ca } = await front(server);
    let received = 0;
    // A loop that takes 50 µs a message: 20,000 a second at most.
    wss.on('connection', (ws) =>
      ws.on('message', () => {
        const until = performance.now() + 0.05;
        while (performance.now() < until);
        received++;
      }),
    );
    // The client runs on a thread of its own, so it sends while this loop is busy.
    const client = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads');
       const { WebSocket } = require('ws');
       const ws = new WebSocket(workerData.url, { ca: workerData.ca, perMessageDeflate: false });
       ws.on('open', () => parentPort.postMessage('open'));
       parentPort.on('message', (n) => {
         const b = Buffer.alloc(1024);
         for (let i = 0; i < n; i++) ws.send(b);
         // Measured here: the server's loop is busy, its own timers would be late.
         setTimeout(() => parentPort.postMessage(ws.bufferedAmount), 300);
       });`,
      { eval: true, workerData: { url: `wss://127.0.0.1:${f.port}/`, ca: ca.toString() } },
    );
    cleanups.push(async () => {
      await client.terminate();
    });
    await once(client, 'message');
    const total = 32_000; // 32 MB, three times what the kernel's buffers hold between the two
    const measured = once(client, 'message');
    client.postMessage(total);
    const [atPeer] = (await measured) as [number];
    // Had the thread read on, all of it would be queued for this loop and none left at the peer.
    expect(atPeer).toBeGreaterThan(8 * 1024 * 1024);
    const deadline = Date.now() + 20_000;
    while (received < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(received).toBe(total);
  });

  it('says a port in use is the operator’s to change, naming the flag', async () => {
    const first = await front(createServer());
    const err = await front(createServer(), { port: first.f.port }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('LISTEN_FAILED');
    expect(String((err as Error).message)).toContain('the port is in use');
    expect((err as ConfigError).hint).toContain('--listen');
  });

  it('refuses new connections after stopAccepting, keeps open ones, and ends all at close', async () => {
    const server = createServer((_req, res) => res.end('ok'));
    const { f, ca } = await front(server);
    const open = await tlsClient(f.port, ca);
    cleanups.push(() => {
      open.destroy();
    });
    while (f.connections < 1) await new Promise((r) => setTimeout(r, 10));
    f.stopAccepting();
    await new Promise((r) => setTimeout(r, 100));
    await expect(tlsClient(f.port, ca)).rejects.toThrow(/ECONNREFUSED/);
    open.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
    const [first] = (await once(open, 'data')) as [Buffer];
    expect(first.toString()).toMatch(/^HTTP\/1\.1 200/);
    const closed = once(open, 'close');
    await f.close();
    await closed;
    expect(f.connections).toBe(0);
  });

  it('starts a new thread on the same port when its thread ends, and closes the old connections', async () => {
    const threads: { w: Worker; restart: boolean }[] = [];
    const server = createServer((_req, res) => res.end('ok'));
    const { f, ca } = await front(server, { onThread: (w, restart) => threads.push({ w, restart }) });
    const port = f.port;
    const old = await tlsClient(port, ca);
    cleanups.push(() => {
      old.destroy();
    });
    while (f.connections < 1) await new Promise((r) => setTimeout(r, 10));
    const closed = once(old, 'close');
    await threads[0]?.w.terminate();
    await closed;
    while (threads.length < 2) await new Promise((r) => setTimeout(r, 20));
    expect(threads.map((t) => t.restart)).toEqual([false, true]);
    expect(f.port).toBe(port);
    expect((await get(port, ca, '/')).body).toBe('ok');
  });

  it('gets its port back when a new thread finds it taken, trying again until it is free', async () => {
    const lines: string[] = [];
    const log = pino(
      { level: 'warn' },
      new Writable({
        write(chunk, _enc, cb) {
          lines.push(String(chunk));
          cb();
        },
      }),
    ) as unknown as Logger;
    const threads: Worker[] = [];
    const server = createServer((_req, res) => res.end('ok'));
    const { f, ca } = await front(server, { onThread: (w) => threads.push(w), log });
    const port = f.port;
    await threads[0]?.terminate();
    // Another process takes the port before the new thread is up.
    const thief = createNetServer();
    await new Promise<void>((r) => thief.listen(port, '127.0.0.1', r));
    const deadline = Date.now() + 10_000;
    while (!lines.some((l) => l.includes('could not listen again')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(lines.join('')).toContain('the port is in use');
    await new Promise<void>((r) => thief.close(() => r()));
    while (!lines.some((l) => l.includes('listens again')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 50));
    expect(f.port).toBe(port);
    expect((await get(port, ca, '/')).body).toBe('ok');
  });
});
