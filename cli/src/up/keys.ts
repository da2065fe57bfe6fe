/**
 * The API keys of a `kiln up` run, each with the least scope its job needs:
 *   - enroll (this run only): provisioning registers devices and reads their status;
 *   - read (this run only): the live table's MQTT subscription and the final REST check;
 *   - admin, for the operator (kept between runs): signing in to the dashboard, curl.
 * Run keys live in memory and are revoked when the run ends; a run that was killed
 * leaves them live, so the next run revokes those first.
 */
import type { Store } from '@kiln/companion';
import { readSecretFile, writeSecretFile } from './data-dir.ts';

const ENROLL_NAME = 'kiln up: enroll (one run)';
const READ_NAME = 'kiln up: watch (one run)';
const OPERATOR_NAME = 'kiln up: operator';
const ACTOR = 'kiln-up';

export interface RunKeys {
  enroll: string;
  read: string;
  /** Revokes both (the store must still be open). */
  revoke(): void;
}

export function createRunKeys(store: Store): RunKeys {
  for (const row of store.apiKeys.list()) {
    if (row.revokedAt === null && (row.name === ENROLL_NAME || row.name === READ_NAME)) {
      store.apiKeys.revoke(row.id);
      store.audit.record({
        actor: ACTOR,
        action: 'apikey.revoke',
        target: row.id,
        detail: { left_by: 'a run that died' },
      });
    }
  }
  const enroll = store.apiKeys.create(ENROLL_NAME, 'enroll');
  const read = store.apiKeys.create(READ_NAME, 'read');
  for (const k of [enroll, read]) {
    store.audit.record({ actor: ACTOR, action: 'apikey.create', target: k.row.id, detail: { scope: k.row.scope } });
  }
  return {
    enroll: enroll.key,
    read: read.key,
    revoke() {
      for (const k of [enroll, read]) {
        if (store.apiKeys.revoke(k.row.id))
          store.audit.record({ actor: ACTOR, action: 'apikey.revoke', target: k.row.id });
      }
    },
  };
}

/**
 * The operator's admin key. It is never printed: a key on the terminal ends up in
 * scrollback, in CI logs and in `npm start > log` files, where anyone reading them can
 * operate the fleet. Instead it goes to a file only this user can read (0600, in a 0700
 * dir) and the path is printed; `$(cat FILE)` hands it to curl or mosquitto_sub, and the
 * dashboard's sign-in takes it pasted. The same key serves later runs while it is live.
 */
export function operatorKey(store: Store, file: string): { file: string; created: boolean } {
  const existing = readSecretFile(file)?.trim();
  if (existing && store.apiKeys.verify(existing)?.scope === 'admin') return { file, created: false };
  const { row, key } = store.apiKeys.create(OPERATOR_NAME, 'admin');
  store.audit.record({ actor: ACTOR, action: 'apikey.create', target: row.id, detail: { scope: row.scope } });
  writeSecretFile(file, `${key}\n`);
  return { file, created: true };
}
