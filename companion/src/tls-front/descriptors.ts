/**
 * Whether the gateway has run out of file descriptors, as the TLS front sees it. Each device
 * connection is one, and libuv answers a full table by accepting each waiting connection and
 * closing it at once (its "EMFILE trick", so that the listen socket does not spin): no accept
 * fails where Node could report it, devices are turned away, and nothing would say so. The
 * front therefore counts what it holds, and near the limit counts what the process holds.
 */
import { readdirSync } from 'node:fs';

/**
 * Descriptors this process has open (Linux); Infinity when not even the directory can be
 * opened for lack of one; undefined where the host does not say.
 */
export function countOpenFiles(dir = '/proc/self/fd'): number | undefined {
  try {
    return readdirSync(dir).length - 1; // the directory's own descriptor, open while it is read
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? Number.POSITIVE_INFINITY : undefined;
  }
}

/** Within this many descriptors of the limit, the process's own count is read (at most once a second). */
const NEAR = 64;
/** While the table stays full, it is said again this often. */
const NOTICE_EVERY_MS = 30_000;

export class DescriptorWatch {
  /** Connections accepted and not yet closed. */
  #held = 0;
  /** What the process held before the first connection: database files, threads, brokers. */
  readonly #baseline: number;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #noticeAt = Number.NEGATIVE_INFINITY;

  constructor(
    readonly limit: number,
    private readonly full: (open: number, limit: number) => void,
    private readonly count: () => number | undefined = countOpenFiles,
  ) {
    this.#baseline = count() ?? 0;
  }

  opened(now = Date.now()): void {
    this.#held++;
    this.check(now);
  }

  closed(): void {
    this.#held--;
  }

  /** On every accept, and on a timer: once the table is full, no accept comes to call it. */
  check(now = Date.now()): void {
    if (this.#held + this.#baseline < this.limit - NEAR || now - this.#checkedAt < 1000) return;
    this.#checkedAt = now;
    const open = this.count();
    // One left is as good as none: the next connection takes it, and those after are turned away.
    if (open === undefined || open < this.limit - 1) {
      this.#noticeAt = Number.NEGATIVE_INFINITY;
      return;
    }
    if (now - this.#noticeAt < NOTICE_EVERY_MS) return;
    this.#noticeAt = now;
    this.full(Math.min(open, this.limit), this.limit);
  }
}
