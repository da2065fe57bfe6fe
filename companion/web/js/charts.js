// Telemetry charts (uPlot, one per metric). Live: samples from the operator stream go into
// a sliding window and the charts redraw at most once per animation frame, however fast
// samples come. History: the telemetry query endpoint, raw or downsampled per bucket
// (average line, min–max band).

import uPlot from '../vendor/uPlot.esm.js';
import { api } from './api.js';
import { fmtInt, fmtTime, fmtValue, h } from './dom.js';

const HEIGHT = 200;
const MAX_CHARTS = 16;
const COLORS = ['#c2410c', '#2563eb', '#15803d', '#9333ea', '#b45309', '#0e7490', '#be123c', '#4d7c0f'];
const NICE_BUCKETS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400];
/** Points a history chart aims at when the bucket is automatic. */
const TARGET_POINTS = 500;
const RAW_LIMIT = 10_000;

export function autoBucketSec(fromMs, toMs) {
  const want = (toMs - fromMs) / 1000 / TARGET_POINTS;
  return NICE_BUCKETS.find((b) => b >= want) ?? 86400;
}

/** One chart: a figure with a caption that tells its latest value in words. */
class Chart {
  /**
   * @param {HTMLElement} host
   * @param {string} metric
   * @param {number} color
   * @param {{band?: boolean, xRange?: () => [number, number]}} opts
   */
  constructor(host, metric, color, opts) {
    this.metric = metric;
    this.draws = 0;
    this.caption = h('figcaption');
    this.plotHost = h('div', { role: 'img', 'aria-label': `Chart of ${metric}` });
    this.figure = h(
      'figure',
      { class: 'chart', 'data-metric': metric, 'data-draws': '0' },
      this.plotHost,
      this.caption,
    );
    host.append(this.figure);
    const stroke = COLORS[color % COLORS.length];
    // Canvas text cannot use currentColor: take the page's text colour (light or dark scheme).
    const fg = getComputedStyle(host).color;
    const series = opts.band
      ? [
          {},
          { label: `${metric} (avg)`, stroke, width: 2 },
          { label: 'min', stroke: `${stroke}66`, width: 1 },
          { label: 'max', stroke: `${stroke}66`, width: 1 },
        ]
      : [{}, { label: metric, stroke, width: 2, points: { show: false } }];
    this.plot = new uPlot(
      {
        width: Math.max(300, host.clientWidth || 600),
        height: HEIGHT,
        series,
        ...(opts.band ? { bands: [{ series: [3, 2], fill: `${stroke}22` }] } : {}),
        scales: { x: { time: true, ...(opts.xRange ? { range: opts.xRange } : {}) } },
        axes: [{ stroke: fg }, { stroke: fg, size: 60 }],
        hooks: {
          draw: [
            () => {
              this.draws++;
              this.figure.dataset.draws = String(this.draws);
            },
          ],
        },
      },
      opts.band ? [[], [], [], []] : [[], []],
      this.plotHost,
    );
  }

  resize(width) {
    this.plot.setSize({ width: Math.max(300, width), height: HEIGHT });
  }

  destroy() {
    this.plot.destroy();
    this.figure.remove();
  }
}

export class LiveCharts {
  /**
   * @param {HTMLElement} host
   * @param {HTMLElement} status
   * @param {() => number} dropped telemetry frames the gateway dropped for this page (it could not keep up)
   */
  constructor(host, status, dropped) {
    this.host = host;
    this.status = status;
    this.dropped = dropped;
    this.windowMs = 300_000;
    /** @type {Map<string, {chart: Chart, xs: number[], ys: number[], dirty: boolean}>} */
    this.series = new Map();
    this.frame = 0;
    this.samples = 0;
    /** Newest sample time, s */
    this.latest = 0;
    this.onResize = () => {
      for (const s of this.series.values()) s.chart.resize(this.host.clientWidth);
    };
  }

  start() {
    window.addEventListener('resize', this.onResize);
    this.status.textContent = 'Waiting for telemetry from the device…';
  }

  stop() {
    window.removeEventListener('resize', this.onResize);
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    for (const s of this.series.values()) s.chart.destroy();
    this.series.clear();
    this.samples = 0;
    this.latest = 0;
  }

  setWindow(ms) {
    this.windowMs = ms;
    for (const s of this.series.values()) s.dirty = true;
    this.#schedule();
  }

  /** A telemetry frame for this device: `{ts, metrics}`. */
  push(frame) {
    const t = frame.ts / 1000;
    if (t > this.latest) this.latest = t;
    for (const [metric, value] of Object.entries(frame.metrics ?? {})) {
      if (typeof value !== 'number') continue;
      let s = this.series.get(metric);
      if (!s) {
        if (this.series.size >= MAX_CHARTS) continue;
        const chart = new Chart(this.host, metric, this.series.size, {
          // The window ends now, or at the newest sample if the device's clock runs ahead of ours.
          xRange: () => {
            const end = Math.max(Date.now() / 1000, this.latest);
            return [end - this.windowMs / 1000, end];
          },
        });
        s = { chart, xs: [], ys: [], dirty: true };
        this.series.set(metric, s);
      }
      // Samples resent after a reconnect may arrive late: keep the x axis ordered.
      if (s.xs.length && t < (s.xs.at(-1) ?? 0)) {
        const i = s.xs.findIndex((x) => x > t);
        s.xs.splice(i, 0, t);
        s.ys.splice(i, 0, value);
      } else {
        s.xs.push(t);
        s.ys.push(value);
      }
      s.dirty = true;
    }
    this.samples++;
    this.#schedule();
  }

  #schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.#draw();
    });
  }

  #draw() {
    const oldest = (Date.now() - this.windowMs) / 1000;
    for (const [metric, s] of this.series) {
      if (!s.dirty) continue;
      s.dirty = false;
      // Trim in chunks, not per sample: splice is linear in what stays.
      let cut = 0;
      while (cut < s.xs.length && (s.xs[cut] ?? 0) < oldest) cut++;
      if (cut > 0 && (cut > 64 || cut > s.xs.length / 8)) {
        s.xs.splice(0, cut);
        s.ys.splice(0, cut);
      }
      s.chart.plot.setData([s.xs, s.ys]);
      const last = s.ys.at(-1);
      s.chart.caption.textContent = `${metric}: latest ${fmtValue(last)} at ${fmtTime((s.xs.at(-1) ?? 0) * 1000)} · ${fmtInt(s.xs.length)} samples in view`;
    }
    const dropped = this.dropped();
    this.status.textContent = `Live: ${fmtInt(this.samples)} samples received${dropped ? `; ${fmtInt(dropped)} dropped by the gateway because this page fell behind` : ''}`;
  }
}

export class HistoryCharts {
  /** @param {HTMLElement} host @param {HTMLElement} status */
  constructor(host, status) {
    this.host = host;
    this.status = status;
    /** @type {Chart[]} */
    this.charts = [];
    this.generation = 0;
    this.onResize = () => {
      for (const c of this.charts) c.resize(this.host.clientWidth);
    };
  }

  clear() {
    this.generation++;
    window.removeEventListener('resize', this.onResize);
    for (const c of this.charts) c.destroy();
    this.charts = [];
  }

  /**
   * @param {string} deviceId
   * @param {number} from ms
   * @param {number} to ms
   * @param {number | 'auto'} bucket seconds; 0 raw
   * @param {string[]} knownMetrics metrics seen live, charted even if the first samples lack them
   */
  async load(deviceId, from, to, bucket, knownMetrics) {
    this.clear();
    const gen = this.generation;
    window.addEventListener('resize', this.onResize);
    const bucketSec = bucket === 'auto' ? autoBucketSec(from, to) : bucket;
    const base = `/api/v1/devices/${encodeURIComponent(deviceId)}/telemetry`;
    this.status.textContent = 'Loading history…';
    const raw = await api(
      'GET',
      `${base}?${new URLSearchParams({ from: String(from), to: String(to), limit: String(bucketSec === 0 ? RAW_LIMIT : 200) })}`,
    );
    if (gen !== this.generation) return;
    const metrics = new Set(knownMetrics);
    for (const p of raw.points) for (const m of Object.keys(p.metrics ?? {})) metrics.add(m);
    const list = [...metrics].sort().slice(0, MAX_CHARTS);
    if (list.length === 0) {
      this.status.textContent = `No telemetry between ${fmtTime(from)} and ${fmtTime(to)}.`;
      return;
    }
    const range = () => /** @type {[number, number]} */ ([from / 1000, to / 1000]);
    if (bucketSec === 0) {
      list.forEach((metric, i) => {
        const xs = [];
        const ys = [];
        for (const p of raw.points) {
          const v = p.metrics?.[metric];
          if (typeof v === 'number') {
            xs.push(p.ts / 1000);
            ys.push(v);
          }
        }
        const c = new Chart(this.host, metric, i, { xRange: range });
        c.plot.setData([xs, ys]);
        c.caption.textContent = `${metric}: ${fmtInt(xs.length)} raw samples`;
        this.charts.push(c);
      });
      const cut = raw.points.length >= RAW_LIMIT ? ` (the first ${fmtInt(RAW_LIMIT)} only: choose downsampling)` : '';
      this.status.textContent = `${fmtInt(raw.points.length)} raw samples${cut}, ${fmtTime(from)} – ${fmtTime(to)}.`;
      return;
    }
    const answers = await Promise.all(
      list.map((metric) =>
        api(
          'GET',
          `${base}?${new URLSearchParams({ from: String(from), to: String(to), metric, bucket: String(bucketSec), limit: String(RAW_LIMIT) })}`,
        ),
      ),
    );
    if (gen !== this.generation) return;
    let samples = 0;
    answers.forEach((a, i) => {
      const metric = /** @type {string} */ (list[i]);
      const xs = [];
      const avg = [];
      const min = [];
      const max = [];
      for (const p of a.points) {
        xs.push(p.t / 1000);
        avg.push(p.avg);
        min.push(p.min);
        max.push(p.max);
        samples += p.count;
      }
      const c = new Chart(this.host, metric, i, { band: true, xRange: range });
      c.plot.setData([xs, avg, min, max]);
      c.caption.textContent = `${metric}: ${fmtInt(xs.length)} buckets of ${bucketSec} s (average, min–max band)`;
      this.charts.push(c);
    });
    this.status.textContent = `${fmtInt(samples)} samples in ${bucketSec} s buckets, ${fmtTime(from)} – ${fmtTime(to)}.`;
  }
}
