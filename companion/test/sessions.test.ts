/** The session registry's rolling ping round (device/sessions.ts), on fake timers: no real sockets needed to count visits. */
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Session } from '../src/device/session.ts';
import { SessionRegistry } from '../src/device/sessions.ts';
import { GatewayMetrics } from '../src/metrics.ts';

afterEach(() => {
  vi.useRealTimers();
});

function fakeSession(deviceId: string) {
  const s = {
    deviceId,
    alive: true,
    pings: 0,
    terminated: false,
    ws: {
      ping: () => {
        s.pings++;
      },
      terminate: () => {
        s.terminated = true;
      },
    },
    close: () => {},
  };
  return s;
}

describe('session registry: rolling ping round', () => {
  it('pings each session once per pingSec, a slice each second, and cuts those that never answered', () => {
    vi.useFakeTimers();
    const reg = new SessionRegistry(new GatewayMetrics(), 4);
    const all = Array.from({ length: 8 }, (_, i) => fakeSession(`s-${i}`));
    for (const s of all) reg.add(s as unknown as Session);
    vi.advanceTimersByTime(1000);
    // A quarter of them per second, not all at once.
    expect(all.map((s) => s.pings)).toEqual([1, 1, 0, 0, 0, 0, 0, 0]);
    vi.advanceTimersByTime(3000);
    expect(all.every((s) => s.pings === 1)).toBe(true);
    // Pongs came back from all but s-1 (a pong sets alive again).
    for (const s of all) if (s.deviceId !== 's-1') s.alive = true;
    vi.advanceTimersByTime(1000); // the next round's first slice
    expect(all[0]?.pings).toBe(2);
    expect(all[1]?.terminated).toBe(true);
    expect(all.filter((s) => s.terminated)).toHaveLength(1);
    reg.stop();
  });
});
