/**
 * JUnit XML as Jenkins (junit plugin) and GitLab read it: <testsuites> of <testsuite>s
 * of <testcase>s, with <failure message type> and <system-out>. Serial logs carry
 * control characters XML 1.0 cannot hold; they are replaced, never passed through.
 * test/fixtures/junit.xsd is the schema the acceptance test validates against.
 */
import { hostname } from 'node:os';

export interface CaseResult {
  suite: string;
  test: string;
  /** The DUT it ran on; undefined for a whole-bench case. */
  dut: string | undefined;
  status: 'passed' | 'failed';
  ms: number;
  attempts: number;
  /** The failure: first line, error code, and the whole text (with the DUT log tail). */
  failure?: { message: string; type: string; text: string };
  /** What goes to <system-out>: the DUT's log while the case ran. */
  output: string;
}

export function caseName(r: Pick<CaseResult, 'test' | 'dut'>): string {
  return r.dut ? `${r.test} [${r.dut}]` : r.test;
}

// XML 1.0 Char: #x9 | #xA | #xD | [#x20-#xD7FF] | [#xE000-#xFFFD] | [#x10000-#x10FFFF].
const INVALID = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

export function xmlText(s: string): string {
  return s.replace(INVALID, '\uFFFD').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

export function xmlAttr(s: string): string {
  return xmlText(s).replace(/"/g, '&quot;').replace(/\n/g, '&#10;').replace(/\r/g, '&#13;').replace(/\t/g, '&#9;');
}

const secs = (ms: number) => (ms / 1000).toFixed(3);

export function toJunit(
  name: string,
  results: readonly CaseResult[],
  options: { timestamp?: Date; host?: string } = {},
): string {
  const stamp = (options.timestamp ?? new Date()).toISOString().slice(0, 19);
  const host = options.host ?? hostname();
  const suites = [...new Set(results.map((r) => r.suite))];
  const total = (list: readonly CaseResult[]) => ({
    tests: list.length,
    failures: list.filter((r) => r.status === 'failed').length,
    time: secs(list.reduce((a, r) => a + r.ms, 0)),
  });
  const all = total(results);
  const out = [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<testsuites name="${xmlAttr(name)}" tests="${all.tests}" failures="${all.failures}" errors="0" skipped="0" time="${all.time}">`,
  ];
  suites.forEach((suite, id) => {
    const list = results.filter((r) => r.suite === suite);
    const t = total(list);
    out.push(
      `  <testsuite name="${xmlAttr(suite)}" tests="${t.tests}" failures="${t.failures}" errors="0" skipped="0" time="${t.time}" timestamp="${stamp}" hostname="${xmlAttr(host)}" id="${id}">`,
    );
    for (const r of list) {
      out.push(
        `    <testcase name="${xmlAttr(caseName(r))}" classname="${xmlAttr(`${name}.${suite}`)}" time="${secs(r.ms)}">`,
      );
      if (r.failure) {
        out.push(
          `      <failure message="${xmlAttr(r.failure.message)}" type="${xmlAttr(r.failure.type)}">${xmlText(r.failure.text)}</failure>`,
        );
      }
      if (r.output) out.push(`      <system-out>${xmlText(r.output)}</system-out>`);
      out.push('    </testcase>');
    }
    out.push('  </testsuite>');
  });
  out.push('</testsuites>', '');
  return out.join('\n');
}
