/**
 * `kiln gateway` (run), and `kiln gateway backup OUT`, `restore BACKUP`, `check`,
 * `api-key create|list|revoke`.
 * Thin handlers over startGateway / Store; configuration precedence is
 * defaults < --config file < KILN_GATEWAY_* environment < flags. The operator commands that
 * talk to a running gateway (`kiln devices`, `kiln telemetry`) live in cli/.
 */

import { dirname, join } from 'node:path';
import { ExitCode, KilnError, UsageError } from '@kiln/protocol';
import { type Command, Option } from 'commander';
import { registerDeviceCommands } from './cli/devices.ts';
import { registerTelemetryCommands } from './cli/telemetry.ts';
import {
  type ConfigInput,
  configFromEnv,
  defaultConfig,
  parseHostPort,
  readConfigFile,
  resolveConfig,
} from './config.ts';
import { SCOPES, type Scope } from './store/api-keys.ts';
import { checkDatabase } from './store/db.ts';
import { DB_FILE, Store } from './store/index.ts';
import { restoreDatabase } from './store/restore.ts';
import { endWithParent, relaunchPlan, runRelaunched, runtimeSummary } from './util/relaunch.ts';

interface RunFlags {
  config?: string;
  listen?: string;
  allowPublicBind?: boolean;
  insecureDev?: boolean;
  dataDir?: string;
  mqttUrl?: string;
  mqttListen?: string;
  tlsCert?: string;
  tlsKey?: string;
  audience?: string;
  instanceId?: string;
  production?: boolean;
}

function flagsToConfig(f: RunFlags): ConfigInput {
  const c: ConfigInput = {};
  if (f.listen) c.listen = parseHostPort(f.listen, '--listen');
  if (f.allowPublicBind) c.allowPublicBind = true;
  if (f.insecureDev) c.insecureDev = true;
  if (f.production) c.mode = 'production';
  if (f.dataDir) c.dataDir = f.dataDir;
  if (f.audience) c.audience = f.audience;
  if (f.instanceId) c.instanceId = f.instanceId;
  if (f.mqttUrl) c.mqtt = { ...c.mqtt, url: f.mqttUrl };
  if (f.mqttListen) c.mqtt = { ...c.mqtt, listen: parseHostPort(f.mqttListen, '--mqtt-listen') };
  if (f.tlsCert || f.tlsKey)
    c.tls = { ...(f.tlsCert ? { certFile: f.tlsCert } : {}), ...(f.tlsKey ? { keyFile: f.tlsKey } : {}) };
  return c;
}

export function loadRunConfig(f: RunFlags, env: NodeJS.ProcessEnv = process.env) {
  return resolveConfig(f.config ? readConfigFile(f.config) : {}, configFromEnv(env), flagsToConfig(f));
}

function dataDirOf(flag: string | undefined): string {
  return flag ?? process.env.KILN_GATEWAY_DATA_DIR ?? defaultConfig().dataDir;
}

/** `--data-dir` may be parsed by `gateway` itself (commander gives a parent's options precedence). */
const dataDirFlag = (cmd: Command) => (cmd.optsWithGlobals() as { dataDir?: string }).dataDir;

const out = (s: string) => process.stdout.write(s);

/**
 * SIGINT and SIGTERM, from before the gateway starts (one that comes meanwhile stops it as
 * soon as it has; taken only after the banner, a signal sent on seeing it could find the
 * default action still in place and kill the process outright). A second Ctrl+C stops at
 * once (SIGINT's default); more SIGTERMs do not: under systemd the whole control group gets
 * one, so a relaunched gateway has it from its parent as well.
 */
function stopRequest(): { signal: Promise<NodeJS.Signals>; dispose(): void } {
  let requested!: (sig: NodeJS.Signals) => void;
  const signal = new Promise<NodeJS.Signals>((resolve) => {
    requested = resolve;
  });
  const again = () => {};
  const stop = (sig: NodeJS.Signals) => {
    // `again` first: with no listener at all, even for a moment, SIGTERM is back to its default.
    process.on('SIGTERM', again);
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    requested(sig);
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return {
    signal,
    dispose: () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      process.off('SIGTERM', again);
    },
  };
}

async function run(f: RunFlags): Promise<void> {
  const config = loadRunConfig(f);
  // Once, in a Node process started with what a fleet needs (util/relaunch.ts); this one then
  // only waits for it, and ends as it does.
  const relaunch = relaunchPlan();
  if (relaunch) process.exit(await runRelaunched(relaunch));
  endWithParent();
  const stop = stopRequest();
  try {
    // Loaded here, not with the CLI: only the process that runs the gateway needs its modules,
    // not the one that relaunches it, nor any other kiln command.
    const { startGateway } = await import('./gateway.ts');
    const gw = await startGateway(config);
    out(`kiln gateway ${config.instanceId} (${config.mode})\n`);
    out(
      `  devices:  ${gw.deviceUrl}\n  REST:     ${gw.baseUrl}/api/v1  (OpenAPI: ${gw.baseUrl}/api/v1/openapi.json)\n`,
    );
    out(`  metrics:  ${gw.baseUrl}/metrics\n  MQTT:     ${gw.mqttUrl}\n  data:     ${config.dataDir}\n`);
    out(`  runtime:  ${runtimeSummary()}\n`);
    if (gw.caPath) out(`  dev CA:   ${gw.caPath}  (provisioning installs this on devices)\n`);
    if (config.insecureDev)
      process.stderr.write(
        'WARNING: --insecure-dev: plain ws:// and http://, tokens travel in clear. Test benches only.\n',
      );
    if (gw.store.apiKeys.count() === 0)
      out(`  no API key yet: kiln gateway api-key create --scope admin --data-dir ${config.dataDir}\n`);
    gw.log.info({ signal: await stop.signal }, 'shutting down');
    await gw.close();
    out('kiln gateway: stopped\n');
  } finally {
    stop.dispose();
  }
}

function withStore<T>(dataDir: string | undefined, fn: (s: Store) => T): T {
  const store = Store.open(dataDirOf(dataDir));
  try {
    return fn(store);
  } finally {
    store.close();
  }
}

export function registerCommands(program: Command): void {
  const gw = program
    .command('gateway')
    .description('run the gateway: device WSS endpoint, REST API, MQTT bridge, metrics')
    .option('--config <file>', 'configuration file (YAML or JSON)')
    .option('--listen <host:port>', 'where to listen (default 127.0.0.1:8443)')
    .option('--allow-public-bind', 'allow listening on a non-loopback address')
    .option('--insecure-dev', 'plain ws:// and http:// (development only; refused in production mode)')
    .option('--production', 'production mode: given TLS certificate required, no development paths')
    .option('--data-dir <dir>', 'database, keys and dev CA (default ~/.kiln/gateway)')
    .option('--mqtt-url <url>', 'use an external MQTT broker (mqtt://user:pass@host:1883) instead of the embedded one')
    .option('--mqtt-listen <host:port>', 'where the embedded MQTT broker listens (default 127.0.0.1:1883)')
    .option('--tls-cert <file>', 'server certificate (PEM); without it a development CA is made')
    .option('--tls-key <file>', 'server private key (PEM)')
    .option(
      '--audience <aud>',
      'an extra JWT audience to accept (devices present the origin of the URL they were given; those are always accepted)',
    )
    .option('--instance-id <id>', 'name of this instance on the MQTT bus (several instances share a fleet)')
    .addHelpText(
      'after',
      `
Environment: KILN_GATEWAY_MODE, _LISTEN, _DATA_DIR, _MQTT_URL, _TLS_CERT, _TLS_KEY, _AUDIENCE,
_INSTANCE_ID, _LOG_LEVEL, _MASTER_KEY (64 hex chars; else <data-dir>/master.key). Flags win over
the environment, which wins over --config.

The gateway runs in a Node process started over with jemalloc (when installed), a 64 MiB
young generation and V8's memory reducer off; this one passes signals on and ends with it.
KILN_GATEWAY_RELAUNCH=0: run in this process as started.

Configuration keys, MQTT topics, an external broker's ACL, several instances: docs/GATEWAY.md.

Examples:
  kiln gateway                                   # dev CA, loopback, embedded MQTT on 127.0.0.1:1883
  kiln gateway --listen 0.0.0.0:8443 --allow-public-bind --tls-cert gw.pem --tls-key gw.key --production
  kiln gateway --mqtt-url mqtt://kiln:secret@broker:1883 --instance-id gw-a
  kiln gateway api-key create --scope admin
  kiln gateway backup /var/backups/kiln-$(date +%F).db`,
    )
    .action(async (f: RunFlags) => run(f));

  gw.command('backup')
    .description('copy the gateway database while it runs (SQLite online backup)')
    .argument('<out>', 'the file to write')
    .option('--data-dir <dir>', 'the gateway data dir')
    .addHelpText(
      'after',
      '\nExamples:\n  kiln gateway backup gateway-backup.db\n  kiln gateway backup /backups/kiln.db --data-dir /var/lib/kiln',
    )
    .action(async (outFile: string, _o: unknown, cmd: Command) => {
      const store = Store.open(dataDirOf(dataDirFlag(cmd)));
      try {
        const r = await store.backup(outFile);
        store.audit.record({ actor: 'cli', action: 'gateway.backup', target: outFile });
        out(`kiln gateway backup: ${r.pages} pages written to ${outFile}\n`);
      } finally {
        store.close();
      }
    });

  gw.command('restore')
    .description('put a backup in place of the gateway database (the gateway must be stopped)')
    .argument('<backup>', 'the file `kiln gateway backup` wrote')
    .option('--data-dir <dir>', 'the gateway data dir')
    .addHelpText(
      'after',
      `
The backup is checked in full first (SQLite's integrity_check) and refused if damaged. The
database it replaces is moved aside with its WAL, never deleted; copying the file over by
hand would leave that WAL behind for SQLite to replay onto the backup. Refused while a
gateway or another kiln gateway command has the database open.

Examples:
  kiln gateway restore /var/backups/kiln-2026-11-22.db
  kiln gateway restore gateway-backup.db --data-dir /var/lib/kiln`,
    )
    .action(async (backupFile: string, _o: unknown, cmd: Command) => {
      const r = await restoreDatabase(dataDirOf(dataDirFlag(cmd)), backupFile);
      const store = Store.open(dirname(r.file));
      try {
        store.audit.record({ actor: 'cli', action: 'gateway.restore', target: backupFile });
      } finally {
        store.close();
      }
      out(`kiln gateway restore: ${backupFile} (${r.pages} pages, checked) is now ${r.file}\n`);
      if (r.replacedTo) out(`  the database it replaced, with its WAL: ${r.replacedTo}\n`);
      if (r.stillOnReplaced.length > 0)
        throw new KilnError(
          'DATABASE_IN_USE',
          `process ${r.stillOnReplaced.join(', ')} opened the database while it was restored, and works on the replaced file`,
          { exitCode: ExitCode.USAGE, hint: 'stop it and start it again: it then opens the restored database' },
        );
    });

  gw.command('check')
    .description("check the whole database (SQLite's full integrity_check); safe while the gateway runs")
    .option('--data-dir <dir>', 'the gateway data dir')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      `
A start after a clean stop checks every table but the telemetry ones; this reads the whole
file (about 4 s per GB). It holds one read snapshot meanwhile, so the WAL cannot start over
until it ends: run it from a timer at a quiet hour. Exit 0: ok; 6: damaged (STORE_CORRUPT).

Examples:
  kiln gateway check
  kiln gateway check --data-dir /var/lib/kiln --json`,
    )
    .action((o: { json?: boolean }, cmd: Command) => {
      const r = checkDatabase(join(dataDirOf(dataDirFlag(cmd)), DB_FILE));
      out(o.json ? `${JSON.stringify(r)}\n` : `kiln gateway check: ok (${r.pages} pages, ${r.ms} ms)\n`);
    });

  const keys = gw
    .command('api-key')
    .description('operator API keys (REST bearer tokens and MQTT passwords)')
    .addHelpText(
      'after',
      '\nExamples:\n  kiln gateway api-key create --scope admin --name ops\n  kiln gateway api-key list --json\n  kiln gateway api-key revoke key_0123456789abcdef',
    );
  keys
    .command('create')
    .description('create a key; it is printed once and stored only as a hash')
    .addOption(new Option('--scope <scope>', 'what it may do').choices(SCOPES as string[]).makeOptionMandatory())
    .option('--name <name>', 'a label for people', 'cli')
    .option('--data-dir <dir>', 'the gateway data dir')
    .option('--json', 'print JSON')
    .addHelpText(
      'after',
      '\nExamples:\n  kiln gateway api-key create --scope admin\n  kiln gateway api-key create --scope read --name grafana --json',
    )
    .action((o: { scope: Scope; name: string; json?: boolean }, cmd: Command) => {
      if (!/^[\x20-\x7e]{1,64}$/.test(o.name))
        throw new UsageError('BAD_NAME', '--name must be 1..64 printable ASCII characters');
      withStore(dataDirFlag(cmd), (s) => {
        const { row, key } = s.apiKeys.create(o.name, o.scope);
        s.audit.record({ actor: 'cli', action: 'apikey.create', target: row.id, detail: { scope: row.scope } });
        out(
          o.json
            ? `${JSON.stringify({ ...row, key })}\n`
            : `${key}\n(id ${row.id}, scope ${row.scope}; shown once, stored only as a hash)\n`,
        );
      });
    });
  keys
    .command('list')
    .description('list keys (never the keys themselves)')
    .option('--data-dir <dir>', 'the gateway data dir')
    .option('--json', 'print JSON')
    .addHelpText('after', '\nExamples:\n  kiln gateway api-key list\n  kiln gateway api-key list --json')
    .action((o: { json?: boolean }, cmd: Command) => {
      withStore(dataDirFlag(cmd), (s) => {
        const rows = s.apiKeys.list();
        if (o.json) return out(`${JSON.stringify(rows)}\n`);
        for (const r of rows) out(`${r.id}  ${r.scope.padEnd(7)}  ${r.revokedAt ? 'revoked' : 'live   '}  ${r.name}\n`);
      });
    });
  keys
    .command('revoke')
    .description('revoke a key by id')
    .argument('<id>', 'the key id (from list)')
    .option('--data-dir <dir>', 'the gateway data dir')
    .addHelpText('after', '\nExamples:\n  kiln gateway api-key revoke key_0123456789abcdef')
    .action((id: string, _o: unknown, cmd: Command) => {
      withStore(dataDirFlag(cmd), (s) => {
        if (!s.apiKeys.revoke(id))
          throw new KilnError('NOT_FOUND', `no live API key ${id}`, {
            exitCode: ExitCode.USAGE,
            hint: 'kiln gateway api-key list',
          });
        s.audit.record({ actor: 'cli', action: 'apikey.revoke', target: id });
        out(`revoked ${id}\n`);
      });
    });

  registerDeviceCommands(program);
  registerTelemetryCommands(program);
}
