/**
 * Whether jemalloc is loaded into this process, and where the system keeps it. With glibc's
 * allocator, a major collection at 10,000 devices stalled the event loop for up to 650 ms and
 * RSS passed 1 GiB; with jemalloc the stalls stayed under 180 ms (docs/ARCHITECTURE.md,
 * "Memory and major collections"). The gateway says so at start-up for a fleet that size.
 */
import { existsSync, readFileSync } from 'node:fs';

/** Where Debian, Ubuntu and Fedora put libjemalloc2's library. */
const CANDIDATES = [
  '/usr/lib/x86_64-linux-gnu/libjemalloc.so.2',
  '/usr/lib/aarch64-linux-gnu/libjemalloc.so.2',
  '/usr/lib64/libjemalloc.so.2',
  '/usr/lib/libjemalloc.so.2',
];

/** Registered devices from which the gateway recommends jemalloc. */
export const JEMALLOC_FLEET = 1000;

export interface AllocatorState {
  /** jemalloc is mapped into this process (LD_PRELOAD). */
  jemalloc: boolean;
  /** The library to preload, when installed. */
  library: string | undefined;
}

let known: { state: AllocatorState | undefined } | undefined;

/**
 * undefined where it cannot be told (no /proc: not Linux). Read once: what a process has
 * preloaded does not change, and the start-up summary and the gateway both ask.
 */
export function allocatorState(): AllocatorState | undefined {
  known ??= { state: readAllocatorState() };
  return known.state;
}

function readAllocatorState(): AllocatorState | undefined {
  let maps: string;
  try {
    maps = readFileSync('/proc/self/maps', 'utf8');
  } catch {
    return undefined;
  }
  return { jemalloc: maps.includes('libjemalloc'), library: CANDIDATES.find((p) => existsSync(p)) };
}

/** The start-up advice for `devices` registered devices, or undefined when there is none to give. */
export function allocatorAdvice(devices: number, state: AllocatorState | undefined): string | undefined {
  if (devices < JEMALLOC_FLEET || !state || state.jemalloc) return undefined;
  const how = state.library
    ? `start it with LD_PRELOAD=${state.library}`
    : 'install jemalloc (Debian/Ubuntu: libjemalloc2) and start it with LD_PRELOAD set to its libjemalloc.so.2';
  return `${devices} devices registered: for a fleet this size, ${how}. With the system allocator, major garbage collections stall the event loop for hundreds of ms (docs/ARCHITECTURE.md)`;
}
