/**
 * How a HIL suite is written: a file in test/suites/ (or any file given to
 * `kiln hil run --suites`) whose default export is `defineSuite(...)`.
 *
 *   export default defineSuite('boot and version', ({ test }) => {
 *     test('prints its firmware name and version', async ({ dut }) => {
 *       await dut.reset();
 *       await dut.expect(/kiln: kiln_firmware (\d+\.\d+\.\d+)/);
 *     });
 *   });
 *
 * `test` runs once per DUT, all DUTs in parallel; `benchTest` runs once with the whole
 * bench (multi-DUT cases). Tests run in the order written, suites in file-name order.
 */
import type { RunningBench } from './bench.ts';
import type { Dut } from './dut.ts';
import type { BenchGateway } from './gateway.ts';

export interface HilContext {
  /** The DUT this case runs on (the first DUT for a benchTest). */
  dut: Dut;
  duts: readonly Dut[];
  gateway: BenchGateway;
  bench: RunningBench;
  /** Provisions `dut` once per run, then returns the same summary (a fixture). */
  provisioned(dut?: Dut): ReturnType<RunningBench['provisioned']>;
}

export interface HilTestOptions {
  /** Whole-case timeout in ms; default 120 s (each expect has its own, 30 s by default). */
  timeout?: number;
}

export interface HilTest {
  name: string;
  each: 'dut' | 'bench';
  timeoutMs: number;
  run(ctx: HilContext): Promise<void>;
}

export interface HilSuite {
  readonly kind: 'kiln-hil-suite';
  name: string;
  tests: HilTest[];
}

type Fn = (ctx: HilContext) => Promise<void>;
export interface SuiteBuilder {
  test(name: string, fn: Fn, options?: HilTestOptions): void;
  benchTest(name: string, fn: Fn, options?: HilTestOptions): void;
}

export const DEFAULT_CASE_TIMEOUT_MS = 120_000;

export function defineSuite(name: string, build: (t: SuiteBuilder) => void): HilSuite {
  const tests: HilTest[] = [];
  const add =
    (each: HilTest['each']) =>
    (test: string, run: Fn, o: HilTestOptions = {}) => {
      tests.push({ name: test, each, run, timeoutMs: o.timeout ?? DEFAULT_CASE_TIMEOUT_MS });
    };
  build({ test: add('dut'), benchTest: add('bench') });
  return { kind: 'kiln-hil-suite', name, tests };
}

export function isSuite(v: unknown): v is HilSuite {
  return typeof v === 'object' && v !== null && (v as HilSuite).kind === 'kiln-hil-suite';
}
