/**
 * `kiln up`'s data dir (default `.kiln/up/`), kept between runs so that a second run
 * finds its devices already enrolled:
 *
 *   gateway/            the gateway's SQLite, master key and development CA
 *   boards/<name>.bin   each virtual board's flash (firmware, NVS with the device key)
 *   logs/               gateway.log and one serial log per board
 *   operator-api-key    the operator's admin key, mode 0600 (see operatorKey in up.ts)
 *   wifi.json           the virtual network's SSID and password, mode 0600
 *   up.lock             the pid of the run using the dir (one run at a time)
 */
import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '@kiln/protocol';

export interface UpDataDir {
  root: string;
  gateway: string;
  boards: string;
  logs: string;
  operatorKeyFile: string;
  wifiFile: string;
  lockFile: string;
}

export function dataDirLayout(root: string): UpDataDir {
  return {
    root,
    gateway: join(root, 'gateway'),
    boards: join(root, 'boards'),
    logs: join(root, 'logs'),
    operatorKeyFile: join(root, 'operator-api-key'),
    wifiFile: join(root, 'wifi.json'),
    lockFile: join(root, 'up.lock'),
  };
}

export function createDataDir(root: string): UpDataDir {
  const d = dataDirLayout(root);
  // 0700: the dir holds secrets (master key, operator key, Wi-Fi password).
  for (const dir of [d.root, d.gateway, d.boards, d.logs]) mkdirSync(dir, { recursive: true, mode: 0o700 });
  return d;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes the data dir for this run: two runs on one dir would share flash files, serial
 * ports and a database. A lock left by a run that died is taken over.
 * Returns: the release function.
 */
export function lockDataDir(d: UpDataDir): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(d.lockFile, 'wx', 0o600);
      writeFileSync(fd, `${process.pid}\n`);
      closeSync(fd);
      return () => rmSync(d.lockFile, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
    }
    const pid = Number.parseInt(readFileSync(d.lockFile, 'utf8'), 10);
    if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
      throw new UsageError('UP_BUSY', `another kiln up (pid ${pid}) is using ${d.root}`, {
        hint: 'stop it with Ctrl+C, or give this run its own --data-dir',
      });
    }
    rmSync(d.lockFile, { force: true });
  }
  throw new UsageError('UP_BUSY', `cannot take ${d.lockFile}`, { hint: 'remove the file if no kiln up is running' });
}

/** A secret file's text, or undefined when it does not exist. Its mode is brought back to 0600. */
export function readSecretFile(path: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  chmodSync(path, 0o600);
  return text;
}

/** Writes a secret readable by this user only (0600 from the first byte, not chmod-ed afterwards). */
export function writeSecretFile(path: string, text: string): void {
  rmSync(path, { force: true });
  writeFileSync(path, text, { mode: 0o600, flag: 'wx' });
}

export interface VirtualWifi {
  ssid: string;
  psk: string;
}

/**
 * The virtual boards' network. Its password is made up on the first run and kept, as a
 * real network's is: boards enrolled before rejoin it from their NVS after a restart.
 */
export function virtualWifi(d: UpDataDir, ssid = 'KilnUp'): VirtualWifi {
  const text = readSecretFile(d.wifiFile);
  if (text !== undefined) {
    try {
      const w = JSON.parse(text) as Partial<VirtualWifi>;
      // Another SSID (a bench names its own): another network, with its own password.
      if (w.ssid === ssid && typeof w.psk === 'string' && w.psk.length >= 8) return { ssid, psk: w.psk };
    } catch {
      // A damaged file: make a new network; provisioning tells every board.
    }
  }
  const w = { ssid, psk: randomBytes(12).toString('base64url') };
  writeSecretFile(d.wifiFile, `${JSON.stringify(w)}\n`);
  return w;
}
