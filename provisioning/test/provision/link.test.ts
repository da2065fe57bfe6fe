/**
 * The serial link's waiters when the port goes away mid-request (kiln up stopping while it
 * provisions, a cable pulled): the request fails with the port's error, and the answer it
 * was waiting for, abandoned, must not surface later as an unhandled rejection (which ends
 * the process with a stack trace on stderr).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ImprovClient, RpcClient, SerialLink } from '../../src/index.ts';

const unhandled: unknown[] = [];
const onUnhandled = (e: unknown) => unhandled.push(e);
afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
});

/** A port that is already closed: every write fails. */
const closedPort = () => ({
  write: () => Promise.reject(new Error('port closed')),
  onData: () => () => {},
  close: () => {},
});

describe('serial link, port closed mid-request', () => {
  it('fails the request with the port error and leaves no rejection behind (Improv and RPC)', async () => {
    process.on('unhandledRejection', onUnhandled);
    const link = new SerialLink(closedPort());
    await expect(new ImprovClient(link, 200).currentState(0)).rejects.toThrow('port closed');
    await expect(new ImprovClient(link, 200).deviceInfo()).rejects.toThrow('port closed');
    await expect(new ImprovClient(link, 200).sendWifi('lab', 'psk', 200)).rejects.toThrow('port closed');
    await expect(new ImprovClient(link, 200).scan(200)).rejects.toThrow('port closed');
    await expect(new RpcClient(link, 200).call(1)).rejects.toThrow('port closed');
    // Past every waiter's timeout (500 ms for the state request).
    await new Promise((r) => setTimeout(r, 700));
    expect(unhandled).toEqual([]);
  });
});
