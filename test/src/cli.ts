/**
 * `kiln hil run`: a thin handler over runHil(). The summary table goes to stdout,
 * progress and failures (with the DUT log tail) to stderr; exit code 7 when a case fails.
 */
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ExitCode, KilnError, UsageError } from '@kiln/protocol';
import type { Command } from 'commander';
import { caseName, toJunit } from './junit.ts';
import { formatSummary, runHil } from './runner.ts';

interface RunFlags {
  bench: string;
  grep?: string;
  junit?: string;
  retries: string;
  suites?: string[];
  logDir?: string;
  timeout: string;
  json?: boolean;
  quiet?: boolean;
}

const RUN_HELP = `
Starts the bench (the embedded gateway unless the bench names one; a virtual board
for each "port: virtual" DUT), flashes each DUT's firmware build once, runs the
suites (per-DUT cases on all DUTs in parallel; each DUT is provisioned once, when a
case first needs it), prints a summary table and stops everything. A failed case
shows its pattern and the last lines of the DUT's log; every DUT's whole log, with
timestamps, is in --log-dir. docs/HIL.md describes bench files and suites.

Exit codes: 0 all passed, 2 bad bench file or options, 7 a case failed.

Examples:
  kiln hil run --bench hardware/benches/virtual.yaml
      the shipped suites on three virtual boards (what CI runs)
  kiln hil run --bench hardware/benches/virtual.yaml --junit report.xml --retries 1
      JUnit XML for Jenkins or GitLab; a failed case is retried once
  kiln hil run --bench bench.yaml --grep 'telemetry' --log-dir hil-logs
      only the cases whose "suite > test" matches, logs kept in hil-logs/
  kiln hil run --bench bench.yaml --suites my-suites/ --timeout 60`;

function count(text: string, what: string, min: number): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min)
    throw new UsageError('BAD_OPTION', `${what} ${text}: expected a whole number ≥ ${min}`);
  return n;
}

async function runAction(flags: RunFlags): Promise<void> {
  const err = (s: string) => process.stderr.write(s);
  const retries = count(flags.retries, '--retries', 0);
  const timeoutMs = count(flags.timeout, '--timeout', 1) * 1000;
  const logDir = resolve(flags.logDir ?? join(tmpdir(), `kiln-hil-${new Date().toISOString().replace(/[:.]/g, '-')}`));
  const report = await runHil({
    bench: flags.bench,
    ...(flags.suites ? { suites: flags.suites } : {}),
    ...(flags.grep ? { grep: flags.grep } : {}),
    retries,
    timeoutMs,
    logDir,
    onStatus: (line) => {
      if (!flags.quiet) err(`  ${line}\n`);
    },
    onResult: (r) => {
      if (!flags.quiet) err(`${r.status === 'passed' ? 'PASS' : 'FAIL'} ${r.suite} > ${caseName(r)}\n`);
      if (r.failure) err(`${r.failure.text.split('\n    at ')[0]}\n\n`);
    },
  });
  if (flags.junit) writeFileSync(flags.junit, toJunit(report.bench.name, report.results));
  if (flags.json) {
    const results = report.results.map(({ output: _output, ...r }) => r);
    process.stdout.write(
      `${JSON.stringify({ bench: report.bench.name, ms: Math.round(report.ms), results, logs: report.logs }, null, 2)}\n`,
    );
  } else process.stdout.write(formatSummary(report));
  const failed = report.results.filter((r) => r.status === 'failed');
  if (failed.length) {
    throw new KilnError('TESTS_FAILED', `${failed.length} of ${report.results.length} HIL cases failed`, {
      hint: `the DUT logs are in ${logDir}${flags.junit ? `; the JUnit report is ${flags.junit}` : ''}`,
      exitCode: ExitCode.TESTS_FAILED,
    });
  }
}

export function registerCommands(program: Command): void {
  const hil = program
    .command('hil')
    .description("hardware-in-the-loop tests: run a bench file's suites (JUnit out)")
    .addHelpText('after', '\nExamples:\n  kiln hil run --bench hardware/benches/virtual.yaml --junit report.xml');
  hil
    .command('run')
    .description('start a bench, flash and provision its DUTs, run the HIL suites, report')
    .requiredOption('--bench <file>', 'the bench file (YAML), e.g. hardware/benches/virtual.yaml')
    .option('--grep <regex>', 'only cases whose "suite > test" matches')
    .option('--junit <file>', 'write a JUnit XML report (Jenkins, GitLab)')
    .option('--retries <n>', 'run a failed case again up to n times', '0')
    .option('--suites <paths...>', 'suite files or folders instead of the shipped test/suites/')
    .option('--log-dir <dir>', 'where the per-DUT logs go (default a new temp dir, printed at the end)')
    .option('--timeout <seconds>', 'default timeout of each expect', '30')
    .option('--json', 'print the results as JSON instead of the table')
    .option('-q, --quiet', 'no progress on stderr (failures are still shown)')
    .addHelpText('after', RUN_HELP)
    .action(runAction);
}
