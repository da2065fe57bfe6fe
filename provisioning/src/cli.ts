/**
 * `kiln nvs gen|dump` and `kiln provision`: thin handlers over the scripting API
 * (nvs/, provision/). Data goes to stdout, progress and warnings to stderr.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { ExitCode, KilnError, UsageError } from '@kiln/protocol';
import type { Command } from 'commander';
import { dumpNvs } from './nvs/dump.ts';
import { formatNvsDump, nvsDumpJson } from './nvs/dump-text.ts';
import { ENCODINGS, generateNvs } from './nvs/generate.ts';
import { formatBatch, parseDevicesCsv, provisionBatch } from './provision/batch.ts';
import { formatSummary, provision } from './provision/provision.ts';
import { readSecret } from './provision/secrets.ts';

const out = (s: string) => process.stdout.write(s);
const err = (s: string) => process.stderr.write(s);

/** A size like 0x6000, 24576, 24K or 24KB. */
export function parseSize(text: string): number {
  const m = /^(0x[0-9a-f]+|\d+)\s*(k|kb|kib|m|mb|mib)?$/i.exec(text.trim());
  if (!m) throw new UsageError('size', `size '${text}': write e.g. 0x6000, 24576 or 24K`);
  const unit = (m[2] ?? '').toLowerCase();
  return Number(m[1]) * (unit.startsWith('k') ? 1024 : unit.startsWith('m') ? 1 << 20 : 1);
}

function readInput(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError('input', `cannot read ${what} ${path}: ${(e as Error).message}`);
  }
}

interface ProvisionFlags {
  port?: string;
  devices?: string;
  hostKeys?: boolean;
  report?: string;
  concurrency?: string;
  ssid?: string;
  pskFile?: string;
  psk?: string;
  gateway?: string;
  ca?: string;
  apiKeyFile?: string;
  deviceId?: string;
  rotateKey?: boolean;
  factoryReset?: boolean;
  timeout: string;
  json?: boolean;
  quiet?: boolean;
  deviceLog?: boolean;
}

const PROVISION_HELP = `
The Wi-Fi password comes from --psk-file, else KILN_WIFI_PSK, else a prompt on a
terminal; the API key from --api-key-file, else KILN_API_KEY. Neither is ever taken
from the command line, printed or logged. Registration needs a gateway API key of
the least privilege that can enrol devices: kiln gateway api-key create --scope enroll.

Examples:
  KILN_API_KEY=… kiln provision --port /dev/ttyUSB0 --ssid KilnLab \\
      --gateway wss://gw.example:8443/v1/device --ca gateway-ca.pem
      prompts for the Wi-Fi password; blank device to online at the gateway
  kiln provision --port rfc2217://127.0.0.1:4000 --ssid KilnLab --psk-file wifi.psk \\
      --gateway wss://127.0.0.1:8443/v1/device --ca .kiln/gateway/dev-ca.pem --api-key-file api.key
  kiln provision --port socket://bench-3:4001 --gateway wss://gw:8443/v1/device --rotate-key --api-key-file api.key
      re-provision with a new device key (the gateway's copy is rotated)
  kiln provision --port /dev/ttyUSB0 --factory-reset
      erase the device's settings and key (then run kiln provision again)
  kiln provision --port /dev/ttyUSB0
      just show the device's Improv state, identity and firmware
  kiln provision --devices line-a.csv --ssid Factory --psk-file wifi.psk \\
      --gateway wss://gw:8443/v1/device --ca ca.pem --api-key-file api.key --report line-a.json
      a bench in parallel, keys made on each device; rerun to resume
  kiln provision --devices line-a.csv --host-keys --ssid Factory --psk-file wifi.psk \\
      --gateway wss://gw:8443/v1/device --api-key-file api.key --report line-a.json
      factory mode: keys made here, NVS images written at each device's NVS offset

Exit codes: 0 online (or done), 2 usage, 3 port, 4 device (e.g. Improv "unable to
connect"), 6 gateway.`;

async function provisionAction(f: ProvisionFlags): Promise<void> {
  if ((f.port === undefined) === (f.devices === undefined)) {
    throw new UsageError('port', 'give --port (one device) or --devices (a bench), not both or neither', {
      hint: 'kiln provision --help shows both',
    });
  }
  if (f.psk !== undefined) {
    throw new UsageError(
      'psk-on-argv',
      '--psk is refused: a password on the command line is visible to every user (ps, shell history)',
      {
        hint: 'use KILN_WIFI_PSK=… , --psk-file FILE, or leave both out to be prompted',
      },
    );
  }
  const psk =
    f.ssid === undefined
      ? undefined
      : await readSecret({
          file: f.pskFile,
          env: 'KILN_WIFI_PSK',
          what: 'Wi-Fi password',
          prompt: `Wi-Fi password for "${f.ssid}": `,
        });
  if (f.ssid !== undefined && psk === undefined) {
    throw new UsageError('psk', `no Wi-Fi password for "${f.ssid}"`, {
      hint: 'set KILN_WIFI_PSK, give --psk-file, or run on a terminal to be prompted (an open network: --psk-file /dev/null)',
    });
  }
  const apiKey = f.gateway ? await readSecret({ file: f.apiKeyFile, env: 'KILN_API_KEY', what: 'API key' }) : undefined;
  if (f.devices !== undefined) return batchAction(f, psk, apiKey);
  if (f.hostKeys) throw new UsageError('host-keys', '--host-keys is for factory runs: use it with --devices');
  const summary = await provision({
    port: f.port as string,
    ...(f.ssid !== undefined ? { ssid: f.ssid, psk: psk as string } : {}),
    ...(f.gateway ? { gateway: f.gateway } : {}),
    ...(f.ca ? { ca: readInput(f.ca, 'CA certificate').toString('utf8') } : {}),
    ...(apiKey ? { apiKey } : {}),
    ...(f.deviceId ? { deviceId: f.deviceId } : {}),
    rotateKey: f.rotateKey ?? false,
    factoryReset: f.factoryReset ?? false,
    onlineTimeoutMs: Number(f.timeout) * 1000,
    ...(f.deviceLog ? { onLog: (l: string) => err(`device| ${l}\n`) } : {}),
    onStep: (s) => {
      if (!f.quiet && !f.json) err(`- ${s}\n`);
    },
  });
  out(f.json ? `${JSON.stringify(summary, null, 2)}\n` : formatSummary(summary));
}

async function batchAction(f: ProvisionFlags, psk: string | undefined, apiKey: string | undefined): Promise<void> {
  if (f.ssid === undefined || psk === undefined || !f.gateway || !apiKey) {
    throw new UsageError('batch', 'a bench run needs --ssid (and its password), --gateway and an API key', {
      hint: 'KILN_WIFI_PSK=… KILN_API_KEY=… kiln provision --devices devices.csv --ssid … --gateway wss://…',
    });
  }
  if (f.hostKeys) {
    err(
      'warning: --host-keys: device keys are generated on this computer, so each key exists off its device until the image is written; keep this machine trusted\n',
    );
  }
  const devices = parseDevicesCsv(readInput(f.devices as string, 'devices CSV').toString('utf8'), f.devices);
  const report = await provisionBatch({
    devices,
    ssid: f.ssid,
    psk,
    gateway: f.gateway,
    ca: f.ca ? readInput(f.ca, 'CA certificate').toString('utf8') : undefined,
    apiKey,
    hostKeys: f.hostKeys ?? false,
    reportFile: f.report,
    concurrency: Number(f.concurrency ?? devices.length),
    onlineTimeoutMs: Number(f.timeout) * 1000,
    onProgress: (id, m) => {
      if (!f.quiet && !f.json) err(`[${id}] ${m}\n`);
    },
  });
  const mine = report.devices.filter((d) => devices.some((x) => x.deviceId === d.deviceId));
  out(f.json ? `${JSON.stringify({ ...report, devices: mine }, null, 2)}\n` : formatBatch(report, devices));
  const failed = mine.filter((d) => d.status === 'failed');
  if (failed.length > 0) {
    throw new KilnError('batch-failed', `${failed.length} of ${devices.length} devices failed`, {
      hint: `run the same command again${f.report ? '' : ' with --report FILE'}: enrolled devices are verified and skipped`,
      exitCode: failed.some((d) => d.error?.code.startsWith('gateway')) ? ExitCode.SERVER : ExitCode.DEVICE,
    });
  }
}

export function registerCommands(program: Command): void {
  program
    .command('provision')
    .description('Wi-Fi (Improv), device key and gateway enrolment for one device, over any port form')
    .option('-p, --port <port>', 'serial port: /dev/ttyUSB0, COM3, rfc2217://host:port or socket://host:port')
    .option('--devices <csv>', 'a bench: CSV with columns port,device_id; every device in parallel')
    .option('--host-keys', 'factory mode (with --devices): generate keys on this computer, write NVS images (warns)')
    .option('--report <json>', 'bench report: written after each device; a rerun verifies and skips enrolled devices')
    .option('--concurrency <n>', 'devices at a time (default: all)')
    .option('--ssid <ssid>', 'Wi-Fi network to join (Improv)')
    .option('--psk-file <file>', 'file holding the Wi-Fi password (else KILN_WIFI_PSK, else a prompt)')
    .option('--psk <psk>', 'refused: use KILN_WIFI_PSK, --psk-file or the prompt')
    .option('--gateway <url>', 'device endpoint of the gateway: wss://host:port/v1/device')
    .option('--ca <pem>', "the gateway's CA certificate (its SHA-256 fingerprint is shown)")
    .option('--api-key-file <file>', 'file holding the gateway API key (else KILN_API_KEY)')
    .option('--device-id <id>', 'device id (default: the one the device has, else kiln-<MAC>)')
    .option('--rotate-key', 'have the device generate a new key and rotate it at the gateway')
    .option('--factory-reset', "erase the device's settings and key first")
    .option('--timeout <s>', 'seconds to wait until the gateway reports the device online', '30')
    .option('--json', 'print the summary as JSON')
    .option('-q, --quiet', 'no progress lines')
    .option('--device-log', "echo the device's log lines to stderr (device| …)")
    .addHelpText('after', PROVISION_HELP)
    .action(provisionAction);

  const nvs = program
    .command('nvs')
    .description('NVS partition images: generate from CSV (as esp-idf-nvs-partition-gen), dump and check')
    .addHelpText(
      'after',
      '\nExamples:\n  kiln nvs gen factory.csv nvs.bin --size 0x6000\n  kiln nvs dump nvs.bin --json',
    );

  nvs
    .command('gen')
    .description('generate an NVS partition image from a CSV (byte-identical to esp-idf-nvs-partition-gen)')
    .argument('<csv>', 'CSV with header key,type,encoding,value')
    .argument('<out>', 'image file to write')
    .requiredOption('--size <size>', 'partition size: a multiple of 4096, at least 0x3000 (0x1000/0x2000: read-only)')
    .option('--version <n>', 'NVS format version: 2 (multi-page blobs) or 1', '2')
    .addHelpText(
      'after',
      `
CSV rows: 'name,namespace,,' starts a namespace; 'key,data,ENCODING,VALUE' stores a value;
'key,file,ENCODING,PATH' stores a file's contents (relative paths start at the current directory, as in the generator).
Encodings: ${ENCODINGS}.
Like the generator, a key named sta.ssid or sta.pswd also adds sta.apinfo, sta.pmk and sta.apsw.

Examples:
  kiln nvs gen factory.csv nvs.bin --size 0x6000
  kiln nvs gen wifi.csv wifi-nvs.bin --size 24K --version 2
      then: kiln flash --port /dev/ttyUSB0 wifi-nvs.bin@0x9000`,
    )
    .action((csv: string, outFile: string, flags: { size: string; version: string }) => {
      if (flags.version !== '1' && flags.version !== '2') {
        throw new UsageError('nvs-version', `--version ${flags.version}: 1 or 2`);
      }
      const size = parseSize(flags.size);
      const text = readInput(csv, 'CSV').toString('utf8');
      const image = generateNvs(text, {
        size,
        version: Number(flags.version) as 1 | 2,
        name: csv,
      });
      writeFileSync(outFile, image);
      if (image.length < size)
        err(`warning: ${size} bytes is below 0x3000: a read-only partition (flag it 'readonly')\n`);
      out(`wrote ${outFile}: ${image.length} bytes (NVS format version ${flags.version})\n`);
    });

  nvs
    .command('dump')
    .description('print and check an NVS partition image: pages, entries, items, CRCs and spans')
    .argument('<bin>', 'NVS partition image (e.g. from kiln read-flash 0x9000 0x6000 nvs.bin)')
    .option('--json', 'print JSON: namespaces, items (blobs in base64), pages and problems')
    .option('--all', 'list erased and invalid entries too')
    .addHelpText(
      'after',
      `
Exits with 5 (verify) when a check fails: a CRC, a page state, a span, a missing blob chunk.

Examples:
  kiln nvs dump nvs.bin
  kiln nvs dump nvs.bin --json | jq '.items[] | select(.namespace == "kiln")'
  kiln read-flash 0x9000 0x6000 nvs.bin --port rfc2217://127.0.0.1:4000 && kiln nvs dump nvs.bin`,
    )
    .action((bin: string, flags: { json?: boolean; all?: boolean }) => {
      const dump = dumpNvs(readInput(bin, 'image'));
      out(flags.json ? `${JSON.stringify(nvsDumpJson(dump), null, 2)}\n` : formatNvsDump(dump, flags.all));
      if (dump.problems.length > 0) {
        throw new KilnError('nvs-corrupt', `${bin}: ${dump.problems.length} problem(s) found`, {
          hint: 'the device skips the entries listed under problems',
          exitCode: ExitCode.VERIFY,
        });
      }
    });
}
