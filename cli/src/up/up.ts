/**
 * `kiln up` as a function: the gateway (embedded MQTT broker, SQLite and development
 * TLS in the data dir, loopback), the boards (virtual by default), each flashed and
 * provisioned, then the URLs and a live table until the signal says stop — or, with
 * untilOnline, until every device is online. Whatever was started is stopped on every
 * way out: boards (and their kiln-device processes), ports, the broker, the gateway.
 */
import { createWriteStream, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createLogger, type Gateway, resolveConfig, startGateway } from '@kiln/companion';
import { ExitCode, KilnError } from '@kiln/protocol';
import { GatewayApi, restBaseOf } from '@kiln/provisioning';
import { createDataDir, lockDataDir, virtualWifi } from './data-dir.ts';
import { type BringUpContext, Member, membersOf, type Phase } from './fleet.ts';
import { createRunKeys, operatorKey, type RunKeys } from './keys.ts';
import type { UpOptions } from './options.ts';
import { type DeviceRow, LiveView, type ViewMode } from './view.ts';
import { type DeviceNews, FleetWatch } from './watch.ts';

export interface UpIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal: the table is redrawn in place. */
  tty: boolean;
}

/** A path as the user would type it from here. */
const shown = (p: string) => {
  const r = relative(process.cwd(), p);
  return r && !r.startsWith('..') ? r : p;
};

const secondsSinceStart = () => performance.now() / 1000;

function describeFailure(m: Member): string {
  const e = m.error;
  const text = e instanceof Error ? e.message.split('\n')[0] : String(e);
  const code = e instanceof KilnError ? ` [${e.code}]` : '';
  return `${m.name}: ${text}${code}${m.logFile ? ` (serial log: ${shown(m.logFile)})` : ''}`;
}

function interrupted(signal: AbortSignal): KilnError {
  const by = typeof signal.reason === 'string' ? signal.reason : 'a signal';
  return new KilnError('INTERRUPTED', `stopped by ${by} before every device was up`, {
    exitCode: ExitCode.INTERRUPTED,
    hint: 'everything it started has been stopped; run it again to carry on (the data dir is kept)',
  });
}

/**
 * Runs until `signal` aborts (or, with untilOnline, until all are online or the timeout).
 * Returns: once stopped on request after everything came up, or (untilOnline) once all are online.
 * Throws: KilnError for what ends the run otherwise: INTERRUPTED (130) before all were up,
 * NOT_ONLINE (4) at the timeout, a device's or the gateway's own failure with its code.
 * Everything started is stopped before it returns or throws.
 */
export async function up(o: UpOptions, io: UpIo, signal: AbortSignal): Promise<void> {
  const mode: ViewMode = o.json ? 'json' : io.tty ? 'tty' : 'plain';
  const view = new LiveView(mode, io.out);
  const dirs = createDataDir(o.dataDir);
  const unlock = lockDataDir(dirs);
  const gatewayLog = createWriteStream(join(dirs.logs, 'gateway.log'), { flags: 'a', mode: 0o600 });
  const members = membersOf(o).map((spec) => new Member(spec));
  const byId = new Map<string, Member>();
  const seen = new Map<Member, { seq?: number; lastSeen?: number }>();
  let gw: Gateway | undefined;
  let keys: RunKeys | undefined;
  let watch: FleetWatch | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let redraw: NodeJS.Timeout | undefined;
  let stopping = false;

  const rowOf = (m: Member): DeviceRow => ({
    board: m.name,
    id: m.summary?.deviceId,
    chip: m.summary?.chip ?? m.spec.chip,
    state: m.phase,
    seq: seen.get(m)?.seq,
    lastSeen: seen.get(m)?.lastSeen,
  });
  const rows = () => members.map(rowOf);
  const changed = (m: Member) => {
    if (mode !== 'tty') return view.render(rows(), [rowOf(m)]);
    // A terminal redraw per telemetry sample would flicker: changes within 100 ms share one.
    redraw ??= setTimeout(() => {
      redraw = undefined;
      view.render(rows());
    }, 100);
  };
  const setPhase = (m: Member, phase: Phase) => {
    if (m.phase === phase) return;
    m.phase = phase;
    changed(m);
  };
  const onNews = (n: DeviceNews) => {
    const m = byId.get(n.deviceId);
    if (!m || stopping) return;
    const s = seen.get(m) ?? {};
    if (n.kind === 'telemetry') {
      s.seq = n.seq;
      s.lastSeen = n.receivedAt;
    } else if (n.lastSeen !== undefined) s.lastSeen = Math.max(s.lastSeen ?? 0, n.lastSeen);
    seen.set(m, s);
    // Until provisioning is done its phase says more than the gateway's view.
    if (n.kind === 'status' && m.summary) setPhase(m, n.state);
    else changed(m);
  };

  const stop = async () => {
    stopping = true;
    clearInterval(ticker);
    clearTimeout(redraw);
    await watch?.close();
    // Boards first: their devices drop off the gateway, instead of retrying a closing one.
    // Each resolves once its kiln-device process has exited.
    await Promise.all(members.map((m) => m.close()));
    if (gw) {
      try {
        keys?.revoke();
      } catch {
        // The store failed: the next run revokes these keys.
      }
      await gw.close().catch(() => {});
    }
    await new Promise<void>((r) => gatewayLog.end(r));
    unlock();
  };

  try {
    view.info(`kiln up: data dir ${shown(dirs.root)}`);
    gw = await startGateway(
      resolveConfig({
        dataDir: dirs.gateway,
        listen: o.listen,
        mqtt: { listen: o.mqttListen },
        instanceId: 'kiln-up',
        limits: { telemetrySec: o.telemetrySec },
      }),
      // A port that is taken fails here as LISTEN_FAILED (exit 2), naming the address and the flag.
      { log: createLogger({ level: process.env.KILN_LOG_LEVEL ?? 'info', destination: gatewayLog }) },
    );
    const gateway = gw;
    keys = createRunKeys(gateway.store);
    const operator = operatorKey(gateway.store, dirs.operatorKeyFile);
    const caPem = gateway.caPath ? readFileSync(gateway.caPath, 'utf8') : undefined;
    const caShown = gateway.caPath ? shown(gateway.caPath) : '(none)';
    view.info(`  gateway    ${gateway.baseUrl}   devices connect to ${gateway.deviceUrl}`);
    view.info(`  dev CA     ${caShown}   (the devices trust it; curl --cacert it)`);
    view.info(
      `  operator   admin API key in ${shown(operator.file)} (mode 0600, not printed${operator.created ? '; new' : ''})`,
    );
    view.info(`  logs       ${shown(dirs.logs)}/`);
    view.emit({
      event: 'gateway',
      url: gateway.baseUrl,
      deviceUrl: gateway.deviceUrl,
      restUrl: `${gateway.baseUrl}/api/v1`,
      mqttUrl: gateway.mqttUrl,
      dashboardUrl: `${gateway.baseUrl}/`,
      caPath: gateway.caPath ?? null,
      operatorKeyFile: operator.file,
      dataDir: dirs.root,
      logDir: dirs.logs,
    });
    if (signal.aborted) throw interrupted(signal);

    const wifi = networkFor(o, dirs);
    watch = await FleetWatch.start(gateway.mqttUrl, keys.read, onNews, (t) => view.info(`kiln up: ${t}`));

    const ctx: BringUpContext = {
      dirs,
      hostBuild: o.hostBuild,
      telemetryMs: o.telemetrySec * 1000,
      wifi,
      gateway: { deviceUrl: gateway.deviceUrl, caPem },
      enrollKey: keys.enroll,
      onPhase: (m, phase) => setPhase(m, phase),
      onStep: (m, step) => view.emit({ event: 'step', board: m.name, step }),
    };
    // Started in order: ports in a predictable sequence; a missing real port stops the run here.
    for (const m of members) {
      const port = await m.start(ctx);
      view.info(`  ${m.name.padEnd(10)} ${port}  ${m.spec.chip}${m.spec.port.kind === 'virtual' ? ' (virtual)' : ''}`);
      view.emit({ event: 'board', board: m.name, port, chip: m.spec.chip, virtual: m.spec.port.kind === 'virtual' });
      if (signal.aborted) throw interrupted(signal);
    }
    view.table(rows());
    if (mode === 'tty') ticker = setInterval(() => view.render(rows()), 1000);

    const pipelines = members.map(async (m) => {
      try {
        const s = await m.bringUp(ctx);
        byId.set(s.deviceId, m);
        const how =
          s.registration === 'registered'
            ? 'enrolled, key generated on the device'
            : s.registration === 'already-registered'
              ? 'already enrolled with the key it holds: re-verified'
              : s.registration === 'key-rotated'
                ? 'enrolled before with another key: rotated'
                : s.registration;
        m.phase = 'online';
        view.announce(rowOf(m), how);
        view.emit({
          event: 'provisioned',
          board: m.name,
          deviceId: s.deviceId,
          registration: s.registration,
          key: s.key,
        });
        changed(m);
      } catch (e) {
        if (stopping) return;
        m.error = e;
        setPhase(m, 'failed');
        view.info(`kiln up: ${describeFailure(m)}`);
        view.emit({
          event: 'failed',
          board: m.name,
          code: e instanceof KilnError ? e.code : 'INTERNAL',
          message: e instanceof Error ? e.message : String(e),
          log: m.logFile ?? null,
        });
      }
    });

    const aborted = new Promise<'aborted'>((r) => {
      if (signal.aborted) r('aborted');
      signal.addEventListener('abort', () => r('aborted'), { once: true });
    });
    let timer: NodeJS.Timeout | undefined;
    const timedOut = o.untilOnline
      ? new Promise<'timeout'>((r) => {
          timer = setTimeout(() => r('timeout'), Math.max(0, o.timeoutMs - performance.now()));
        })
      : new Promise<never>(() => {});
    const outcome = await Promise.race([Promise.all(pipelines).then(() => 'settled' as const), aborted, timedOut]);
    clearTimeout(timer);
    if (outcome === 'aborted') throw interrupted(signal);
    const failed = members.filter((m) => m.phase === 'failed');
    const ready = members.filter((m) => m.summary);
    if (outcome === 'timeout') {
      const late = members.filter((m) => !m.summary);
      throw new KilnError(
        'NOT_ONLINE',
        `${late.length} of ${members.length} devices not online within ${o.timeoutMs / 1000} s of the start: ${late
          .map((m) => `${m.name} (${m.phase})`)
          .join(', ')}`,
        {
          exitCode: ExitCode.DEVICE,
          hint: `their serial logs are in ${shown(dirs.logs)}/; a longer --timeout may help on a slow machine`,
        },
      );
    }
    if (o.untilOnline || ready.length === 0) {
      const first = failed[0];
      if (first) {
        const e = first.error;
        throw new KilnError(
          e instanceof KilnError ? e.code : 'UP_FAILED',
          `${failed.length} of ${members.length} devices did not come up:\n${failed.map((m) => `  ${describeFailure(m)}`).join('\n')}`,
          {
            exitCode: e instanceof KilnError ? e.exitCode : ExitCode.INTERNAL,
            hint: (e instanceof KilnError && e.hint) || 'the serial logs say what the devices did',
            cause: e,
          },
        );
      }
    }

    // The gateway's own answer, over REST, is what "online" means.
    const api = new GatewayApi(restBaseOf(gateway.deviceUrl), keys.read, caPem);
    const views = await Promise.all(ready.map((m) => api.get((m.summary as { deviceId: string }).deviceId)));
    const offline = ready.filter((_, i) => !views[i]?.online);
    const elapsed = secondsSinceStart();
    if (offline.length === 0 && failed.length === 0) {
      view.info(
        `kiln up: ${members.length === 1 ? 'the device' : `all ${members.length} devices`} online ${elapsed.toFixed(1)} s after the start`,
      );
    } else {
      view.info(`kiln up: ${ready.length - offline.length} of ${members.length} devices online`);
    }
    view.emit({
      event: 'online',
      seconds: Number(elapsed.toFixed(3)),
      devices: ready.filter((m) => !offline.includes(m)).map((m) => m.summary?.deviceId),
      failed: failed.map((m) => m.name),
    });
    if (o.untilOnline && offline.length > 0) {
      throw new KilnError('NOT_ONLINE', `went offline again: ${offline.map((m) => m.name).join(', ')}`, {
        exitCode: ExitCode.DEVICE,
        hint: `their serial logs are in ${shown(dirs.logs)}/`,
      });
    }

    printEndpoints(view, gateway, dirs.operatorKeyFile);
    view.freeze();
    view.table(rows());
    if (o.untilOnline) return;

    view.info('Ctrl+C stops the boards, the gateway and the broker.');
    await aborted;
  } finally {
    view.freeze();
    view.info('kiln up: stopping');
    await stop();
    view.info('kiln up: stopped');
    view.emit({ event: 'stopped' });
  }
}

/** The network the boards join: a bench's (its password from the environment, checked by parseUpFlags), or a made-up one. */
function networkFor(o: UpOptions, dirs: ReturnType<typeof createDataDir>): { ssid: string; psk: string } {
  const bench = o.bench;
  if (!bench) return virtualWifi(dirs);
  const psk = process.env[bench.wifi.pskEnv];
  return psk ? { ssid: bench.wifi.ssid, psk } : virtualWifi(dirs, bench.wifi.ssid);
}

function printEndpoints(view: LiveView, gw: Gateway, keyFile: string): void {
  const key = `"$(cat ${shown(keyFile)})"`;
  const mqtt = /^mqtt:\/\/([^:]+):(\d+)$/.exec(gw.mqttUrl);
  view.info('');
  view.info(`  dashboard  ${gw.baseUrl}/   (sign in with the operator key)`);
  view.info(`  REST       ${gw.baseUrl}/api/v1/devices   telemetry: ${gw.baseUrl}/api/v1/devices/<id>/telemetry`);
  view.info(`  MQTT       ${gw.mqttUrl}   topics kiln/v1/<id>/telemetry, kiln/v1/<id>/status`);
  view.info(
    `  e.g.       curl --cacert ${shown(gw.caPath ?? '')} -H "Authorization: Bearer ${key.slice(1, -1)}" ${gw.baseUrl}/api/v1/devices`,
  );
  if (mqtt)
    view.info(`             mosquitto_sub -h ${mqtt[1]} -p ${mqtt[2]} -u kiln -P ${key} -t 'kiln/v1/+/telemetry'`);
  view.info('');
}
