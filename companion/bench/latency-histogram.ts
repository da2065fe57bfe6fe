/**
 * Latencies as 1 ms buckets, so that the windows of a sustained run can be merged and one p99
 * taken over the whole run (a p99 per window cannot be combined). Bucket i counts [i, i+1) ms;
 * the last one counts everything from HIST_BUCKETS - 1 ms up. The native load generator writes
 * the same shape (bench/loadgen/loadgen.c `latency_histogram`).
 */
export const HIST_BUCKETS = 5000;

export type LatencyHistogram = number[];

export function histogramOf(latenciesMs: readonly number[]): LatencyHistogram {
  const h: number[] = [];
  for (const ms of latenciesMs) {
    const b = Math.min(HIST_BUCKETS - 1, Math.max(0, Math.floor(ms)));
    while (h.length <= b) h.push(0);
    h[b] = (h[b] as number) + 1;
  }
  return h;
}

export function mergeHistograms(hs: readonly LatencyHistogram[]): LatencyHistogram {
  const out: number[] = [];
  for (const h of hs)
    h.forEach((c, i) => {
      out[i] = (out[i] ?? 0) + c;
    });
  return Array.from(out, (c) => c ?? 0);
}

/** The p-th percentile as the upper edge of its bucket (never understated); NaN when empty. */
export function histogramPercentile(h: LatencyHistogram, p: number): number {
  const total = h.reduce((a, c) => a + c, 0);
  if (total === 0) return Number.NaN;
  // The same rank as procs.ts' pct on sorted values: index floor(p/100·n), clamped.
  const rank = Math.min(total - 1, Math.floor((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < h.length; i++) {
    seen += h[i] as number;
    if (seen > rank) return i + 1;
  }
  return h.length;
}
