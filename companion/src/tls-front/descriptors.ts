/**
 * Whether the gateway has run out of file descriptors, as the TLS front sees it. Each device
 * connection is one, and libuv answers a full table by accepting each waiting connection and
 * closing it at once (its "EMFILE trick", so that the listen socket does not spin): no accept
 * fails where Node could report it, devices are turned away, and nothing would say so. The
 * front therefore asks the table itself: on a timer, and on each accept once the connections
 * it holds come near the limit.
 */
import { closeSync, openSync, readdirSync } from 'node:fs';

/** Descriptors this process has open (Linux); undefined where the host does not say. */
export function countOpenFiles(dir = '/proc/self/fd'): number | undefined {
  try {
    return readdirSync(dir).length - 1; // the directory's own descriptor, open while it is read
  } catch {
    return undefined;
  }
}

/**
 * Whether not one more descriptor can be opened, by opening one: a syscall, where counting
 * them (countOpenFiles) took 10 ms at 10,000 connections. Undefined when it cannot tell.
 */
export function tableFull(): boolean | undefined {
  try {
    closeSync(openSync('/dev/null', 'r'));
    return false;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'EMFILE' || code === 'ENFILE' ? true : undefined;
  }
}

/** Within this many descriptors of the limit, each accept asks (at most once a second). */
const NEAR = 64;
/** While the table stays full, it is said again this often. */
const NOTICE_EVERY_MS = 30_000;

export class DescriptorWatch {
  /** Connections accepted and not yet closed. */
  #held = 0;
  #checkedAt = Number.NEGATIVE_INFINITY;
  #noticeAt = Number.NEGATIVE_INFINITY;

  /**
   * `baseline`: what the process held before the first connection (database files, threads,
   * brokers); `full(connections, limit)` is told when the table is full.
   */
  constructor(
    private readonly limit: number,
    private readonly full: (connections: number, limit: number) => void,
    private readonly probe: () => boolean | undefined = tableFull,
    private readonly baseline = countOpenFiles() ?? 0,
  ) {}

  opened(now = Date.now()): void {
    this.#held++;
    if (this.#held + this.baseline >= this.limit - NEAR) this.check(now);
  }

  closed(): void {
    this.#held--;
  }

  /**
   * On a timer (every few seconds), whatever the front holds: once the table is full no accept
   * comes to check, and what fills it may be another listener's (MQTT clients, say).
   */
  check(now = Date.now()): void {
    if (now - this.#checkedAt < 1000) return;
    this.#checkedAt = now;
    if (this.probe() !== true) {
      this.#noticeAt = Number.NEGATIVE_INFINITY;
      return;
    }
    if (now - this.#noticeAt < NOTICE_EVERY_MS) return;
    this.#noticeAt = now;
    this.full(this.#held, this.limit);
  }
}
