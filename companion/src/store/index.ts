/** The gateway store: one SQLite file, one repository per table. */
import { join } from 'node:path';
import { ApiKeyRepo } from './api-keys.ts';
import { AuditRepo } from './audit.ts';
import { CommandRepo } from './commands.ts';
import { backupDatabase, type Db, integrityCheck, type OpenOptions, openDatabase } from './db.ts';
import { DeviceRepo } from './devices.ts';
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

  constructor(readonly db: Db) {
    this.devices = new DeviceRepo(db);
    this.telemetry = new TelemetryRepo(db);
    this.commands = new CommandRepo(db);
    this.apiKeys = new ApiKeyRepo(db);
    this.audit = new AuditRepo(db);
  }

  static open(dataDir: string, options?: OpenOptions): Store {
    return new Store(openDatabase(join(dataDir, DB_FILE), options));
  }

  integrity(): string[] {
    return integrityCheck(this.db);
  }

  backup(outFile: string): Promise<{ pages: number }> {
    return backupDatabase(this.db, outFile);
  }

  close(): void {
    if (this.db.open) this.devices.flushPresence();
    if (this.db.open) this.db.close();
  }
}
