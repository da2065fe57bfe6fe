/** Numbers as the benchmarks print them: grouped, with `d` decimals; n/a when not finite. */
export const fmt = (n: number, d = 0) =>
  Number.isFinite(n) ? n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d }) : 'n/a';
