/**
 * Bench files (`hardware/benches/*.yaml`): which boards are on the bench, how to reach
 * and reset them, what they run, and which gateway they talk to. Validated with every
 * error at once, each as `file:line: key: what was expected` (labgrid's places and
 * pytest-embedded's per-DUT options, as one file).
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';
import { UsageError } from '@kiln/protocol';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseDocument, type YAMLMap } from 'yaml';

export const CHIPS = ['esp32', 'esp32s3', 'esp32c3'] as const;
export type Chip = (typeof CHIPS)[number];

/** How a DUT is reached: a local path, a USB match, a network URL, or a virtual board started for the run. */
export type PortSpec =
  | { kind: 'path'; path: string }
  | { kind: 'usb'; by: 'serial' | 'location'; value: string }
  | { kind: 'url'; url: string }
  | { kind: 'virtual' };

/** auto: the DTR/RTS auto-reset circuit; none: no reset (tests that need one fail); a custom esptool sequence; or a shell command (a power switch). */
export type ResetMethod =
  | { kind: 'auto' }
  | { kind: 'none' }
  | { kind: 'sequence'; sequence: string }
  | { kind: 'command'; command: string };

export type GatewaySpec =
  | { kind: 'embedded' }
  | { kind: 'external'; url: string; ca?: string; apiKeyEnv: string; mqttUrl?: string };

export interface DutSpec {
  name: string;
  port: PortSpec;
  chip: Chip;
  /** Absolute path of the firmware build dir (flasher_args.json). */
  firmware: string;
  tags: string[];
  reset: ResetMethod;
  baud: number;
}

export interface Bench {
  /** The file it came from (absolute), for messages. */
  file: string;
  name: string;
  gateway: GatewaySpec;
  wifi: { ssid: string; pskEnv: string };
  reset: ResetMethod;
  duts: DutSpec[];
}

export interface BenchIssue {
  line: number;
  key: string;
  message: string;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const PORT_HELP =
  'a local path (/dev/ttyUSB0, COM3), usb:serial=<serial number>, usb:location=<bus-port path>, rfc2217://host:port, socket://host:port or virtual';

class Checker {
  readonly issues: BenchIssue[] = [];
  constructor(private readonly lines: LineCounter) {}

  line(node: Node | null | undefined, fallback = 1): number {
    const at = node?.range?.[0];
    return at === undefined ? fallback : this.lines.linePos(at).line;
  }

  fail(node: Node | null | undefined, key: string, message: string, fallback = 1): undefined {
    this.issues.push({ line: this.line(node, fallback), key, message });
    return undefined;
  }

  /** The keys of a mapping, refusing unknown ones (a typo must not be silently ignored). */
  fields(
    node: Node | null | undefined,
    key: string,
    allowed: readonly string[],
    at = 1,
  ): Map<string, Node> | undefined {
    if (!isMap(node)) return this.fail(node, key, `expected a mapping with ${allowed.join(', ')}`, at);
    const out = new Map<string, Node>();
    for (const pair of (node as YAMLMap<unknown, unknown>).items) {
      const k = isScalar(pair.key) ? String(pair.key.value) : '?';
      const name = key ? `${key}.${k}` : k;
      if (!allowed.includes(k)) this.fail(pair.key as Node, name, `unknown key; expected one of ${allowed.join(', ')}`);
      else out.set(k, (pair.value ?? null) as Node);
    }
    return out;
  }

  string(node: Node | undefined, key: string, what: string, at: number): string | undefined {
    if (isScalar(node) && typeof node.value === 'string' && node.value.trim() !== '') return node.value;
    if (isScalar(node) && typeof node.value === 'number' && what.includes('number')) return String(node.value);
    return this.fail(node, key, `expected ${what}${node === undefined ? '' : `, got ${describe(node)}`}`, at);
  }
}

function describe(node: Node | null): string {
  if (node === null) return 'nothing';
  if (isScalar(node)) return JSON.stringify(node.value);
  return isMap(node) ? 'a mapping' : isSeq(node) ? 'a list' : 'something else';
}

export function parsePort(text: string): PortSpec | undefined {
  if (text === 'virtual') return { kind: 'virtual' };
  const usb = /^usb:(serial|location)=(.+)$/.exec(text);
  if (usb) return { kind: 'usb', by: usb[1] as 'serial' | 'location', value: usb[2] as string };
  if (/^(rfc2217|socket):\/\/[^\s/:]+:\d{1,5}\/?$/.test(text)) return { kind: 'url', url: text };
  if (/^\/dev\/\S+$/.test(text) || /^COM\d+$/i.test(text) || /^\\\\\.\\COM\d+$/i.test(text))
    return { kind: 'path', path: text };
  return undefined;
}

export function portLabel(p: PortSpec): string {
  return p.kind === 'path'
    ? p.path
    : p.kind === 'url'
      ? p.url
      : p.kind === 'usb'
        ? `usb:${p.by}=${p.value}`
        : 'virtual';
}

function checkReset(c: Checker, node: Node | undefined, key: string, at: number): ResetMethod | undefined {
  const help =
    'auto, none, or a mapping with sequence (esptool custom reset, e.g. D0|R1|W0.1|R0) or command (a power switch)';
  if (isScalar(node) && (node.value === 'auto' || node.value === 'none')) return { kind: node.value };
  if (isMap(node)) {
    const f = c.fields(node, key, ['sequence', 'command'], at);
    if (!f) return undefined;
    if (f.size !== 1) return c.fail(node, key, `expected exactly one of sequence or command`, at);
    const seq = f.get('sequence');
    if (seq !== undefined) {
      const s = c.string(seq, `${key}.sequence`, 'steps like D0|R1|W0.1|R0', at);
      if (s !== undefined && !/^\s*([DR][01]|W\d+(\.\d+)?)\s*(\|\s*([DR][01]|W\d+(\.\d+)?)\s*)*$/.test(s)) {
        return c.fail(
          seq,
          `${key}.sequence`,
          `expected steps D0/D1 (DTR), R0/R1 (RTS), W<seconds> joined by |, got "${s}"`,
        );
      }
      return s === undefined ? undefined : { kind: 'sequence', sequence: s };
    }
    const cmd = c.string(f.get('command'), `${key}.command`, 'a shell command', at);
    return cmd === undefined ? undefined : { kind: 'command', command: cmd };
  }
  return c.fail(node, key, `expected ${help}${node === undefined ? '' : `, got ${describe(node)}`}`, at);
}

function checkGateway(c: Checker, node: Node | undefined, dir: string): GatewaySpec | undefined {
  if (node === undefined || (isScalar(node) && node.value === 'embedded')) return { kind: 'embedded' };
  if (!isMap(node)) {
    return c.fail(
      node,
      'gateway',
      `expected embedded, or a mapping with url (wss://…/v1/device), ca, api_key_env, mqtt_url; got ${describe(node)}`,
    );
  }
  const f = c.fields(node, 'gateway', ['url', 'ca', 'api_key_env', 'mqtt_url']);
  if (!f) return undefined;
  const at = c.line(node);
  const url = c.string(f.get('url'), 'gateway.url', 'the device endpoint, wss://host:port/v1/device', at);
  if (url !== undefined && !/^wss?:\/\/\S+$/.test(url))
    c.fail(f.get('url'), 'gateway.url', `expected wss://host:port/v1/device, got "${url}"`);
  const ca = f.has('ca') ? c.string(f.get('ca'), 'gateway.ca', 'a path to the CA certificate (PEM)', at) : undefined;
  const env = f.has('api_key_env')
    ? c.string(f.get('api_key_env'), 'gateway.api_key_env', 'an environment variable name', at)
    : 'KILN_API_KEY';
  const mqtt = f.has('mqtt_url')
    ? c.string(f.get('mqtt_url'), 'gateway.mqtt_url', 'mqtt(s)://host:port', at)
    : undefined;
  if (mqtt !== undefined && !/^(mqtts?|wss?):\/\/\S+$/.test(mqtt))
    c.fail(f.get('mqtt_url'), 'gateway.mqtt_url', `expected mqtt://host:port or mqtts://…, got "${mqtt}"`);
  if (url === undefined || env === undefined) return undefined;
  return {
    kind: 'external',
    url,
    apiKeyEnv: env,
    ...(ca ? { ca: resolve(dir, ca) } : {}),
    ...(mqtt ? { mqttUrl: mqtt } : {}),
  };
}

function checkDut(c: Checker, node: Node, i: number, dir: string, benchReset: ResetMethod): DutSpec | undefined {
  const key = `duts[${i}]`;
  const at = c.line(node);
  const f = c.fields(node, key, ['name', 'port', 'chip', 'firmware', 'tags', 'reset', 'baud'], at);
  if (!f) return undefined;
  const name = c.string(f.get('name'), `${key}.name`, 'a name (a-z, 0-9, - and _, up to 32)', at);
  if (name !== undefined && !NAME.test(name))
    c.fail(f.get('name'), `${key}.name`, `expected a-z, 0-9, - and _ (up to 32), got "${name}"`);
  const portText = c.string(f.get('port'), `${key}.port`, PORT_HELP, at);
  const port = portText === undefined ? undefined : parsePort(portText);
  if (portText !== undefined && !port) c.fail(f.get('port'), `${key}.port`, `expected ${PORT_HELP}; got "${portText}"`);
  const chip = c.string(f.get('chip'), `${key}.chip`, CHIPS.join(', '), at);
  if (chip !== undefined && !CHIPS.includes(chip as Chip))
    c.fail(f.get('chip'), `${key}.chip`, `expected ${CHIPS.join(', ')}, got "${chip}"`);
  const fw = c.string(
    f.get('firmware'),
    `${key}.firmware`,
    'a firmware build dir (holding flasher_args.json), relative to the bench file',
    at,
  );
  let tags: string[] = [];
  const tagNode = f.get('tags');
  if (tagNode !== undefined) {
    if (
      !isSeq(tagNode) ||
      !tagNode.items.every((t) => isScalar(t) && typeof t.value === 'string' && NAME.test(t.value))
    ) {
      c.fail(tagNode, `${key}.tags`, 'expected a list of tags (a-z, 0-9, - and _), e.g. [generic, multi_dut]');
    } else tags = tagNode.items.map((t) => String((t as { value: unknown }).value));
  }
  const reset = f.has('reset') ? checkReset(c, f.get('reset'), `${key}.reset`, at) : benchReset;
  let baud = 115200;
  const baudNode = f.get('baud');
  if (baudNode !== undefined) {
    if (isScalar(baudNode) && Number.isInteger(baudNode.value) && (baudNode.value as number) >= 300)
      baud = baudNode.value as number;
    else c.fail(baudNode, `${key}.baud`, `expected a baud rate such as 115200, got ${describe(baudNode)}`);
  }
  if (!name || !port || !chip || !fw || !reset) return undefined;
  return { name, port, chip: chip as Chip, firmware: resolve(dir, fw), tags, reset, baud };
}

/** Validates a bench file's text; `file` names it in messages and anchors relative paths. */
export function checkBench(text: string, file: string): { bench?: Bench; issues: BenchIssue[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const c = new Checker(lines);
  for (const e of doc.errors)
    c.issues.push({
      line: lines.linePos(e.pos[0]).line,
      key: '(yaml)',
      message: e.message.split('\n')[0] ?? e.message,
    });
  if (doc.errors.length) return { issues: c.issues };
  const dir = dirname(resolve(file));
  const f = c.fields(doc.contents as Node, '', ['name', 'gateway', 'wifi', 'reset', 'duts']);
  if (!f) return { issues: c.issues };
  const name = c.string(f.get('name'), 'name', 'a bench name', 1);
  const gateway = checkGateway(c, f.get('gateway'), dir);
  const reset = f.has('reset') ? checkReset(c, f.get('reset'), 'reset', 1) : { kind: 'auto' as const };
  let wifi: Bench['wifi'] | undefined;
  const wifiNode = f.get('wifi');
  if (wifiNode === undefined)
    c.fail(doc.contents as Node, 'wifi', 'expected a wifi mapping with ssid (and psk_env, default KILN_WIFI_PSK)');
  else {
    const w = c.fields(wifiNode, 'wifi', ['ssid', 'psk_env'], c.line(wifiNode));
    const ssid = w && c.string(w.get('ssid'), 'wifi.ssid', 'the Wi-Fi network name', c.line(wifiNode));
    const pskEnv = w?.has('psk_env')
      ? c.string(w.get('psk_env'), 'wifi.psk_env', 'an environment variable name', 1)
      : 'KILN_WIFI_PSK';
    if (ssid && pskEnv) wifi = { ssid, pskEnv };
  }
  const dutsNode = f.get('duts');
  const duts: DutSpec[] = [];
  if (!isSeq(dutsNode) || dutsNode.items.length === 0) {
    c.fail(
      dutsNode ?? (doc.contents as Node),
      'duts',
      'expected a list of at least one DUT (name, port, chip, firmware)',
    );
  } else {
    dutsNode.items.forEach((item, i) => {
      const d = checkDut(c, item as Node, i, dir, reset ?? { kind: 'auto' });
      if (!d) return;
      if (duts.some((o) => o.name === d.name))
        c.fail(item as Node, `duts[${i}].name`, `expected a unique name; "${d.name}" is used twice`);
      else duts.push(d);
    });
  }
  if (c.issues.length || !name || !gateway || !reset || !wifi) return { issues: c.issues };
  return { bench: { file: resolve(file), name, gateway, wifi, reset, duts }, issues: [] };
}

/** Reads and validates a bench file. Throws: UsageError BENCH_INVALID listing every issue as file:line. */
export function loadBench(path: string): Bench {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new UsageError('BENCH_UNREADABLE', `cannot read the bench file ${path}: ${(e as Error).message}`, {
      hint: 'give --bench a YAML file, e.g. hardware/benches/virtual.yaml',
    });
  }
  const { bench, issues } = checkBench(text, path);
  if (bench) return bench;
  const shown = relative(process.cwd(), resolve(path)) || path;
  throw new UsageError(
    'BENCH_INVALID',
    `the bench file is invalid:\n${issues.map((i) => `  ${shown}:${i.line}: ${i.key}: ${i.message}`).join('\n')}`,
    { hint: 'docs/HIL.md describes every key; hardware/benches/virtual.yaml is a complete example' },
  );
}
