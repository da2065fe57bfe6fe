/** Bench files: the shipped virtual bench is valid; each kind of mistake is reported as file:line: key: expected. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { checkBench, loadBench, parsePort } from '../src/bench-file.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const FILE = '/benches/x.yaml';

const issues = (text: string) => checkBench(text, FILE).issues.map((i) => `${i.line}: ${i.key}: ${i.message}`);

const base = (dut: string, top = '') => `name: t
${top}wifi:
  ssid: KilnLab
duts:
${dut}`;

describe('bench files', () => {
  it('loads hardware/benches/virtual.yaml: 3 virtual DUTs, embedded gateway, auto reset', () => {
    const b = loadBench(resolve(ROOT, 'hardware/benches/virtual.yaml'));
    expect(b.duts.map((d) => d.name)).toEqual(['dut-1', 'dut-2', 'dut-3']);
    expect(b.duts.every((d) => d.port.kind === 'virtual' && d.chip === 'esp32')).toBe(true);
    expect(b.duts[0]?.firmware).toBe(resolve(ROOT, 'firmware/build-host'));
    expect(b.duts[2]?.tags).toEqual(['generic', 'multi_dut']);
    expect(b.gateway).toEqual({ kind: 'embedded' });
    expect(b.reset).toEqual({ kind: 'auto' });
    expect(b.wifi).toEqual({ ssid: 'KilnLab', pskEnv: 'KILN_WIFI_PSK' });
  });

  it('accepts every port form, an external gateway, and per-DUT reset methods', () => {
    const text = `name: lab
gateway:
  url: wss://gw.lab:8443/v1/device
  ca: ca.pem
  mqtt_url: mqtts://gw.lab:8883
reset:
  sequence: D0|R1|W0.1|R0
wifi:
  ssid: Lab
  psk_env: LAB_PSK
duts:
  - { name: a, port: /dev/ttyUSB0, chip: esp32, firmware: build }
  - { name: b, port: "usb:serial=A1B2C3", chip: esp32s3, firmware: build, baud: 921600 }
  - { name: c, port: "usb:location=1-1.2", chip: esp32c3, firmware: build, reset: none }
  - { name: d, port: "rfc2217://pi:4000", chip: esp32, firmware: build, reset: { command: "uhubctl -a cycle -p 2" } }
  - { name: e, port: virtual, chip: esp32, firmware: build, tags: [generic] }
`;
    const { bench, issues: found } = checkBench(text, FILE);
    expect(found).toEqual([]);
    expect(bench?.gateway).toEqual({
      kind: 'external',
      url: 'wss://gw.lab:8443/v1/device',
      ca: '/benches/ca.pem',
      apiKeyEnv: 'KILN_API_KEY',
      mqttUrl: 'mqtts://gw.lab:8883',
    });
    expect(bench?.duts.map((d) => d.port)).toEqual([
      { kind: 'path', path: '/dev/ttyUSB0' },
      { kind: 'usb', by: 'serial', value: 'A1B2C3' },
      { kind: 'usb', by: 'location', value: '1-1.2' },
      { kind: 'url', url: 'rfc2217://pi:4000' },
      { kind: 'virtual' },
    ]);
    expect(bench?.duts.map((d) => d.reset.kind)).toEqual(['sequence', 'sequence', 'none', 'command', 'sequence']);
    expect(bench?.duts[1]?.baud).toBe(921600);
    expect(bench?.duts[0]?.firmware).toBe('/benches/build');
  });

  it('reports a bad port with its line, key and the forms expected', () => {
    const found = issues(base('  - name: a\n    port: ttyUSB0\n    chip: esp32\n    firmware: b\n'));
    expect(found).toEqual([
      '6: duts[0].port: expected a local path (/dev/ttyUSB0, COM3), usb:serial=<serial number>, usb:location=<bus-port path>, rfc2217://host:port, socket://host:port or virtual; got "ttyUSB0"',
    ]);
  });

  it('reports every mistake at once: unknown key, bad chip, missing firmware, duplicate name, bad tags', () => {
    const found = issues(
      base(`  - name: a
    port: virtual
    chip: esp8266
    firmware: b
    colour: red
  - name: a
    port: virtual
    chip: esp32
    firmware: b
  - name: c
    port: virtual
    chip: esp32
    tags: generic
`),
    );
    expect(found).toEqual([
      '9: duts[0].colour: unknown key; expected one of name, port, chip, firmware, tags, reset, baud',
      '7: duts[0].chip: expected esp32, esp32s3, esp32c3, got "esp8266"',
      '10: duts[1].name: expected a unique name; "a" is used twice',
      '14: duts[2].firmware: expected a firmware build dir (holding flasher_args.json), relative to the bench file',
      '17: duts[2].tags: expected a list of tags (a-z, 0-9, - and _), e.g. [generic, multi_dut]',
    ]);
  });

  it('checks the gateway, reset and wifi sections', () => {
    const dut = '  - { name: a, port: virtual, chip: esp32, firmware: b }\n';
    expect(issues(base(dut, 'gateway: cloud\n'))[0]).toMatch(/^2: gateway: expected embedded, or a mapping with url/);
    expect(issues(base(dut, 'gateway:\n  url: http://x\n'))).toEqual([
      '3: gateway.url: expected wss://host:port/v1/device, got "http://x"',
    ]);
    expect(issues(base(dut, 'reset: pulse\n'))[0]).toMatch(
      /^2: reset: expected auto, none, or a mapping with sequence/,
    );
    expect(issues(base(dut, 'reset:\n  sequence: D0|X1\n'))).toEqual([
      '3: reset.sequence: expected steps D0/D1 (DTR), R0/R1 (RTS), W<seconds> joined by |, got "D0|X1"',
    ]);
    expect(issues(`name: t\nduts:\n${dut}`)).toEqual([
      '1: wifi: expected a wifi mapping with ssid (and psk_env, default KILN_WIFI_PSK)',
    ]);
    expect(issues('name: t\nwifi: { ssid: x }\nduts: []\n')).toEqual([
      '3: duts: expected a list of at least one DUT (name, port, chip, firmware)',
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    expect(issues('name: t\nduts:\n  - name: [\n')[0]).toMatch(/^\d+: \(yaml\): /);
  });

  it('loadBench throws BENCH_INVALID with file:line for each issue', () => {
    expect(() => loadBench(resolve(ROOT, 'test/fixtures/junit.xsd'))).toThrow(/BENCH|invalid|expected/);
    try {
      loadBench(resolve(ROOT, 'test/fixtures/junit.xsd'));
    } catch (e) {
      expect((e as { code: string }).code).toBe('BENCH_INVALID');
    }
  });

  it('parses ports', () => {
    expect(parsePort('COM3')).toEqual({ kind: 'path', path: 'COM3' });
    expect(parsePort('socket://h:1')).toEqual({ kind: 'url', url: 'socket://h:1' });
    expect(parsePort('usb:vid=1')).toBeUndefined();
    expect(parsePort('rfc2217://host')).toBeUndefined();
  });
});
