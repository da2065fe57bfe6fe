/** @kiln/test: the HIL harness — bench files, Dut.expect(), the gateway helpers, suites, the runner and JUnit. */

export { type BenchOptions, type RunningBench, resolvePort, startBench } from './bench.ts';
export {
  type Bench,
  type BenchIssue,
  CHIPS,
  checkBench,
  type DutSpec,
  type GatewaySpec,
  loadBench,
  type PortSpec,
  parsePort,
  portLabel,
  type ResetMethod,
} from './bench-file.ts';
export { BOOT_LINE, type BootLine, type ConsoleStatus, consoleStatus, expectBoot } from './device-console.ts';
export { DEFAULT_TIMEOUT_MS, Dut, type DutOptions, ExpectError, type ExpectOptions, formatTail } from './dut.ts';
export { BenchGateway, type CommandResult, type DeviceStatus, type TelemetryMessage } from './gateway.ts';
export { type DeviceView, GatewayRest, metricValue, type StoredSample } from './gateway-rest.ts';
export { type CaseResult, caseName, toJunit, xmlAttr, xmlText } from './junit.ts';
export { formatSummary, loadSuites, type RunOptions, type RunReport, runHil } from './runner.ts';
export {
  DEFAULT_CASE_TIMEOUT_MS,
  defineSuite,
  type HilContext,
  type HilSuite,
  type HilTest,
  isSuite,
} from './suite.ts';
