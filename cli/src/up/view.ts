/**
 * What `kiln up` shows: progress lines, then a table of devices (id, chip, state, last
 * telemetry seq, last seen). On a terminal the table is redrawn in place below the
 * progress lines; piped, each change is one plain line (so a log file stays readable);
 * with --json every step and change is one JSON object per line, and nothing else.
 */
import type { Phase } from './fleet.ts';

export interface DeviceRow {
  /** The board (or bench DUT) name. */
  board: string;
  /** The device id at the gateway, once known. */
  id: string | undefined;
  chip: string;
  state: Phase;
  /** The last telemetry sample's seq seen on MQTT. */
  seq: number | undefined;
  /** When the gateway last heard from it (ms). */
  lastSeen: number | undefined;
}

export type UpEvent = { event: string; at?: string } & Record<string, unknown>;

export function ago(ms: number | undefined, now: number): string {
  if (ms === undefined) return '-';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  return s < 120 ? `${s} s ago` : `${Math.round(s / 60)} min ago`;
}

const clock = (ms: number) => new Date(ms).toISOString().slice(11, 19);

export function formatTable(rows: readonly DeviceRow[], now: number): string[] {
  const cells = rows.map((r) => [
    r.board,
    r.id ?? '-',
    r.chip,
    r.state,
    r.seq === undefined ? '-' : String(r.seq),
    ago(r.lastSeen, now),
  ]);
  const head = ['board', 'device', 'chip', 'state', 'seq', 'last seen'];
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => (c[i] as string).length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === 4 ? v.padStart(width[i] as number) : v.padEnd(width[i] as number)))
      .join('  ')
      .trimEnd();
  return [line(head), ...cells.map(line)];
}

export type ViewMode = 'tty' | 'plain' | 'json';

export class LiveView {
  /** Lines the live table occupies at the bottom of the terminal (tty mode). */
  #drawn = 0;
  #live = false;
  #rows: readonly DeviceRow[] = [];
  /** What plain mode last printed per board, so it prints changes only. */
  readonly #printed = new Map<string, string>();

  constructor(
    readonly mode: ViewMode,
    private readonly write: (text: string) => void,
    private readonly now: () => number = Date.now,
  ) {}

  #erase(): void {
    // Cursor up over the table, then clear to the end of the screen.
    if (this.#drawn > 0) this.write(`\x1b[${this.#drawn}F\x1b[J`);
    this.#drawn = 0;
  }

  /** A progress line (text modes). On a terminal it goes above the live table. */
  info(text: string): void {
    if (this.mode === 'json') return;
    if (this.mode === 'tty' && this.#live) {
      this.#erase();
      this.write(`${text}\n`);
      this.#draw();
      return;
    }
    this.write(`${text}\n`);
  }

  /** One machine-readable event (json mode). */
  emit(e: UpEvent): void {
    if (this.mode === 'json') this.write(`${JSON.stringify({ ...e, at: new Date(this.now()).toISOString() })}\n`);
  }

  /** The whole table now (text modes); on a terminal it stays live from here on. */
  table(rows: readonly DeviceRow[]): void {
    if (this.mode === 'json') return;
    if (this.mode === 'tty') {
      this.#live = true;
      this.render(rows);
      return;
    }
    this.write(`${formatTable(rows, this.now()).join('\n')}\n`);
    for (const r of rows) this.#printed.set(r.board, `${r.id}/${r.state}`);
  }

  /** The rows changed (or a second passed): redraw (tty), a line per state change (plain), events (json). */
  render(rows: readonly DeviceRow[], changed: readonly DeviceRow[] = []): void {
    if (this.mode === 'tty') {
      this.#rows = rows;
      if (!this.#live) return;
      this.#erase();
      this.#draw();
      return;
    }
    if (this.mode === 'json') {
      for (const r of changed) this.emit({ event: 'device', ...r, lastSeen: r.lastSeen ?? null, seq: r.seq ?? null });
      return;
    }
    // Plain: telemetry ticks would flood a log file; state changes are what a reader needs.
    for (const r of changed) {
      const key = `${r.id}/${r.state}`;
      if (this.#printed.get(r.board) === key) continue;
      this.#printed.set(r.board, key);
      const seq = r.seq === undefined ? '' : `, telemetry seq ${r.seq}`;
      this.write(`${clock(this.now())}  ${r.board}  ${r.id ?? '-'}  ${r.state}${seq}\n`);
    }
  }

  #draw(): void {
    const lines = formatTable(this.#rows, this.now());
    this.write(`${lines.join('\n')}\n`);
    this.#drawn = lines.length;
  }

  /**
   * A board's state change that deserves words (it came online, and how): a line of its
   * own on a terminal, the state-change line itself when piped.
   */
  announce(row: DeviceRow, text: string): void {
    if (this.mode === 'json') return;
    if (this.mode === 'tty') {
      this.info(`${row.board}: ${row.id ?? '-'} ${row.state} (${text})`);
      return;
    }
    this.#printed.set(row.board, `${row.id}/${row.state}`);
    this.write(`${clock(this.now())}  ${row.board}  ${row.id ?? '-'}  ${row.state} (${text})\n`);
  }

  /** Leaves the table where it is; what follows goes below it. */
  freeze(): void {
    this.#live = false;
    this.#drawn = 0;
  }
}
