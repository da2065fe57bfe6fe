/** Starts a real Mosquitto (Debian package) on a free loopback port, with a password file; always stopped by the caller. */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { tempDir } from './helpers.ts';

export interface Mosquitto {
  url: string;
  port: number;
  user: string;
  password: string;
  /** Every account's password, by user name (`user` among them). */
  passwords: Record<string, string>;
  stop(): Promise<void>;
}

/** `acl`: an ACL file for Mosquitto (its `user` lines name the accounts made); `user`: the one in `url`. */
export interface MosquittoOptions {
  acl?: string;
  user?: string;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const c = connect(port, '127.0.0.1');
      c.once('connect', () => {
        c.destroy();
        r(true);
      });
      c.once('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not listen on ${port}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startMosquitto(opts: MosquittoOptions = {}): Promise<Mosquitto> {
  const t = tempDir('kiln-mosq-');
  const port = await freePort();
  const user = opts.user ?? 'kiln';
  const aclText = opts.acl === undefined ? '' : readFileSync(opts.acl, 'utf8');
  const users = new Set([user, ...[...aclText.matchAll(/^user\s+(\S+)/gm)].map((m) => m[1] as string)]);
  const passwords: Record<string, string> = {};
  const pwfile = join(t.dir, 'passwd');
  writeFileSync(pwfile, '');
  for (const u of users) {
    passwords[u] = `pw-${Math.random().toString(36).slice(2)}`;
    const r = spawnSync('mosquitto_passwd', ['-b', pwfile, u, passwords[u]], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`mosquitto_passwd failed: ${r.stderr}`);
  }
  const password = passwords[user] as string;
  const conf = join(t.dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    // `user`: stay the invoking user (as root, mosquitto would otherwise drop to `mosquitto` and lose the temp files).
    [
      `user ${userInfo().username}`,
      `listener ${port} 127.0.0.1`,
      'allow_anonymous false',
      `password_file ${pwfile}`,
      ...(opts.acl === undefined ? [] : [`acl_file ${opts.acl}`]),
      'persistence false',
      'log_type error',
      'max_queued_messages 100000',
      '',
    ].join('\n'),
  );
  const proc: ChildProcess = spawn('mosquitto', ['-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  proc.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  try {
    await waitForPort(port, 5000);
  } catch (e) {
    proc.kill('SIGKILL');
    t.remove();
    throw new Error(`${(e as Error).message}: ${stderr}`);
  }
  return {
    url: `mqtt://${user}:${password}@127.0.0.1:${port}`,
    port,
    user,
    password,
    passwords,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r));
        proc.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 2000))]);
        if (proc.exitCode === null) proc.kill('SIGKILL');
      }
      t.remove();
    },
  };
}
