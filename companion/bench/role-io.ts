/**
 * What every benchmark role process shares: its JSON config (KILN_BENCH), its IPC channel to
 * the parent, and the measures each reports (RSS, its own CPU time, percentiles).
 */
export type Msg = { cmd: string; [k: string]: unknown };
export const cfg = JSON.parse(process.env.KILN_BENCH ?? '{}') as Record<string, unknown>;
export const reply = (m: object) => process.send?.(m);
export const on = (fn: (m: Msg) => Promise<void> | void) =>
  process.on('message', (m: Msg) => void Promise.resolve(fn(m)).catch((e) => reply({ error: String(e) })));
export const rss = () => process.memoryUsage().rss;
/** CPU time of this process (user + system), ms. */
export const cpuMs = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
export const now = () => performance.timeOrigin + performance.now();
export const pct = (xs: number[], p: number) => {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
