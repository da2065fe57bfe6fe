/**
 * Development TLS: a local CA and a server certificate for localhost, made on first start.
 * Node can make keys but not X.509 certificates, so the certificates come from the
 * `openssl` CLI (Debian package, already a dependency of every TLS stack here) rather than
 * an extra npm package. Private keys are made by node:crypto and kept sealed at rest
 * (`enc:v1:`, secrets.ts); openssl only ever sees them passphrase-encrypted in a private
 * temporary directory, so no clear key touches the disk.
 */
import { spawnSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, X509Certificate } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { KilnError } from '@kiln/protocol';
import type { SecretBox } from './secrets.ts';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** Where the dev CA certificate is (provisioning installs it on devices); undefined for given certificates. */
  caPath?: string;
}

function openssl(args: string[], env: NodeJS.ProcessEnv = {}): string {
  const r = spawnSync('openssl', args, { encoding: 'utf8', env: { PATH: process.env.PATH, ...env } });
  if (r.error || r.status !== 0) {
    throw new KilnError('TLS_DEV_CA_FAILED', `openssl ${args[0]} failed: ${r.error?.message ?? r.stderr.trim()}`, {
      hint: 'install openssl (bash scripts/setup.sh does), or pass --tls-cert/--tls-key',
    });
  }
  return r.stdout;
}

/** Runs `fn` with the key written passphrase-encrypted to a private temp file. */
function withEncryptedKey<T>(keyPem: string, fn: (file: string, env: NodeJS.ProcessEnv) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'kiln-tls-'));
  const pass = randomBytes(24).toString('base64url');
  try {
    const file = join(dir, 'key.pem');
    const enc = createPrivateKey(keyPem).export({
      type: 'pkcs8',
      format: 'pem',
      cipher: 'aes-256-cbc',
      passphrase: pass,
    });
    writeFileSync(file, enc, { mode: 0o600 });
    return fn(file, { KILN_TLS_PASS: pass });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const newKey = () =>
  generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;

function validFor(certPem: string, days: number): boolean {
  try {
    return new Date(new X509Certificate(certPem).validTo).getTime() > Date.now() + days * 86_400_000;
  } catch {
    return false;
  }
}

export function ensureDevTls(dataDir: string, box: SecretBox, extraNames: string[] = []): TlsMaterial {
  const caPath = join(dataDir, 'dev-ca.pem');
  const caKeyPath = join(dataDir, 'dev-ca.key.enc');
  const certPath = join(dataDir, 'dev-server.pem');
  const keyPath = join(dataDir, 'dev-server.key.enc');

  let caKey: string;
  if (existsSync(caPath) && existsSync(caKeyPath) && validFor(readFileSync(caPath, 'utf8'), 30)) {
    caKey = box.open(readFileSync(caKeyPath, 'utf8'), 'dev-ca.key').toString('utf8');
  } else {
    caKey = newKey();
    const caPem = withEncryptedKey(caKey, (file, env) =>
      openssl(
        [
          'req',
          '-x509',
          '-new',
          '-key',
          file,
          '-passin',
          'env:KILN_TLS_PASS',
          '-sha256',
          '-days',
          '3650',
          '-subj',
          `/CN=Kiln development CA (${hostname()})`,
          '-addext',
          'basicConstraints=critical,CA:TRUE,pathlen:0',
          '-addext',
          'keyUsage=critical,keyCertSign,cRLSign',
        ],
        env,
      ),
    );
    writeFileSync(caKeyPath, box.seal(caKey, 'dev-ca.key'), { mode: 0o600 });
    writeFileSync(caPath, caPem);
    rmSync(certPath, { force: true }); // a new CA invalidates the old server certificate
  }

  if (existsSync(certPath) && existsSync(keyPath) && validFor(readFileSync(certPath, 'utf8'), 30)) {
    return {
      cert: readFileSync(certPath, 'utf8'),
      key: box.open(readFileSync(keyPath, 'utf8'), 'dev-server.key').toString('utf8'),
      caPath,
    };
  }
  const key = newKey();
  const csr = withEncryptedKey(key, (file, env) =>
    openssl(['req', '-new', '-key', file, '-passin', 'env:KILN_TLS_PASS', '-subj', '/CN=localhost'], env),
  );
  const names = ['DNS:localhost', 'IP:127.0.0.1', 'IP:0:0:0:0:0:0:0:1', `DNS:${hostname()}`, ...extraNames];
  const cert = withEncryptedKey(caKey, (file, env) => {
    const dir = join(file, '..');
    writeFileSync(join(dir, 'req.csr'), csr);
    writeFileSync(
      join(dir, 'ext.cnf'),
      `subjectAltName=${names.join(',')}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`,
    );
    return openssl(
      [
        'x509',
        '-req',
        '-in',
        join(dir, 'req.csr'),
        '-CA',
        caPath,
        '-CAkey',
        file,
        '-passin',
        'env:KILN_TLS_PASS',
        '-set_serial',
        `0x${randomBytes(16).toString('hex')}`,
        '-days',
        '397',
        '-sha256',
        '-extfile',
        join(dir, 'ext.cnf'),
      ],
      env,
    );
  });
  writeFileSync(keyPath, box.seal(key, 'dev-server.key'), { mode: 0o600 });
  writeFileSync(certPath, cert);
  return { cert, key, caPath };
}

export function loadGivenTls(certFile: string, keyFile: string): TlsMaterial {
  try {
    return { cert: readFileSync(certFile, 'utf8'), key: readFileSync(keyFile, 'utf8') };
  } catch (e) {
    throw new KilnError('TLS_UNREADABLE', `cannot read the TLS certificate or key: ${(e as Error).message}`, {
      hint: 'check --tls-cert and --tls-key',
    });
  }
}

/**
 * TLS session-ticket keys (48 bytes: name, HMAC and AES keys), kept sealed at rest so that
 * tickets stay valid across a restart: a fleet reconnecting after a gateway restart resumes
 * its sessions (esp-tls/mbedTLS clients keep tickets) instead of doing 10,000 full
 * handshakes. TLS 1.3 resumption is psk_dhe_ke (a fresh ECDHE per connection), so the
 * ticket key does not unlock recorded traffic. Rotated when older than `maxAgeMs`; after
 * a rotation, clients fall back to a full handshake once.
 */
export function ensureTicketKeys(dataDir: string, box: SecretBox, maxAgeMs = 86_400_000): Buffer {
  const file = join(dataDir, 'tls-ticket-keys.enc');
  try {
    if (existsSync(file) && Date.now() - statSync(file).mtimeMs < maxAgeMs) {
      const keys = box.open(readFileSync(file, 'utf8'), 'tls-ticket-keys');
      if (keys.length === 48) return keys;
    }
  } catch {
    // Unreadable or sealed under another master key: make new ones.
  }
  const keys = randomBytes(48);
  writeFileSync(file, box.seal(keys, 'tls-ticket-keys'), { mode: 0o600 });
  return keys;
}
