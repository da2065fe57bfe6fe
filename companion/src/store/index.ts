/** The gateway store: one SQLite file, one repository per table. */
import { join } from 'node:path';
import { ApiKeyRepo } from './api-keys.ts';
import { AuditRepo } from './audit.ts';
import { CommandRepo } from './commands.ts';
import {
  asDamage,
  backupDatabase,
  type Db,
  type IntegrityReport,
  integrityCheck,
  type OpenOptions,
  openChecked,
} from './db.ts';
import { DeviceRepo } from './devices.ts';
import { type Opener, unregisterOpener } from './openers.ts';
import { TelemetryRepo } from './telemetry.ts';

export const DB_FILE = 'gateway.db';

export type { CommandRow } from './commands.ts';
export type { SampleRow } from './telemetry.ts';

export class Store {
  readonly devices: DeviceRepo;
  readonly telemetry: TelemetryRepo;
  readonly commands: CommandRepo;
  readonly apiKeys: ApiKeyRepo;
  readonly audit: AuditRepo;

  /**
   * `check`: what the integrity check at open did. `opener`: this open's row in
   * store_openers, removed by close() so that the next start knows this one stopped cleanly.
   */
  constructor(
    readonly db: Db,
    readonly check: IntegrityReport = { kind: 'skip', ms: 0 },
    readonly opener?: Opener,
  ) {
    this.devices = new DeviceRepo(db);
    this.telemetry = new TelemetryRepo(db);
    this.commands = new CommandRepo(db);
    this.apiKeys = new ApiKeyRepo(db);
    this.audit = new AuditRepo(db);
  }

  static open(dataDir: string, options?: OpenOptions): Store {
    const { db, check, opener } = openChecked(join(dataDir, DB_FILE), options);
    try {
      return new Store(db, check, opener);
    } catch (e) {
      db.close(); // its opener row stays: the next start checks the whole file
      throw asDamage(e);
    }
  }

  integrity(): string[] {
    return integrityCheck(this.db);
  }

  backup(outFile: string): Promise<{ pages: number }> {
    return backupDatabase(this.db, outFile);
  }

  close(): void {
    if (this.db.open) this.devices.flushPresence();
    if (this.db.open && this.opener) unregisterOpener(this.db, this.opener);
    if (this.db.open) this.db.close();
  }
}
