/**
 * Gateway restart (embedded gateways only: the harness restarts what it started): every
 * DUT reconnects on its own, with the same boot, and the samples it took while the
 * gateway was down are resent and stored once. Checked against what the device says it
 * took (console `status`: samples, dropped, seq) and what the gateway stored (REST):
 * every sample of the boot is stored exactly once, none is published twice on MQTT.
 */
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { type BenchGateway, consoleStatus, defineSuite, type StoredSample } from '@kiln/test';

/** Long enough for samples (1 s apart) to pile up on the device while it cannot send them. */
const DOWN_MS = 2500;

/** Polls the stored samples of one boot with seq < `below` until there are `want` of them (or 15 s pass). */
async function storedBelow(
  gateway: BenchGateway,
  deviceId: string,
  bootId: string,
  below: number,
  want: number,
): Promise<StoredSample[]> {
  const until = Date.now() + 15_000;
  for (;;) {
    const rows = (await gateway.storedTelemetry(deviceId)).filter((r) => r.bootId === bootId && r.seq < below);
    if (rows.length >= want || Date.now() > until) return rows;
    await sleep(250);
  }
}

export default defineSuite('gateway restart', ({ benchTest }) => {
  benchTest(
    'every device comes back online; no sample is lost or stored twice',
    async ({ duts, gateway, provisioned }) => {
      const ids = await Promise.all(duts.map(async (d) => (await provisioned(d)).deviceId));
      const views = await Promise.all(ids.map((id) => gateway.waitForOnline(id)));
      await gateway.watch();
      const before = await Promise.all(duts.map((d) => consoleStatus(d)));
      for (const [i, s] of before.entries()) {
        assert.equal(s.state, 'online', `${duts[i]?.name} is ${s.state} before the restart`);
      }

      await gateway.restart({ downMs: DOWN_MS });

      await Promise.all(
        duts.map(async (dut, i) => {
          const id = ids[i] as string;
          const bootId = views[i]?.bootId as string;
          const was = before[i] as (typeof before)[number];
          await dut.expect(/kiln: gateway session closed \(code \d+/);
          const resend = await dut.expect(
            /kiln: online: telemetry every \d+ s, (\d+) unacknowledged sample\(s\) to resend/,
          );
          assert.ok(Number(resend[1]) >= 1, `${dut.name}: no sample was waiting after ${DOWN_MS} ms offline`);
          await gateway.waitForDevice(id, (d) => d.online && d.bootId === bootId, {
            what: `online again with the same boot ${bootId}`,
          });
          // Telemetry flows again (MQTT too), then the device says what it took.
          await gateway.waitForTelemetry(id, (m) => m.bootId === bootId && m.seq > was.seq, { fresh: true });
          const now = await consoleStatus(dut);
          assert.equal(now.dropped, was.dropped, `${dut.name}: samples pushed out of the ring across the restart`);
          assert.ok(now.reconnects > was.reconnects, `${dut.name}: the reconnect is not counted`);

          // Every sample taken before `now` (seq < now.seq) and not dropped is stored once.
          const want = now.samples - now.dropped;
          const rows = await storedBelow(gateway, id, bootId, now.seq, want);
          const seqs = rows.map((r) => r.seq);
          assert.equal(new Set(seqs).size, seqs.length, `${dut.name}: a sample is stored twice: ${seqs}`);
          assert.equal(
            rows.length,
            want,
            `${dut.name}: the device took ${now.samples} samples (${now.dropped} dropped) before seq ${now.seq}; the gateway stored ${rows.length}`,
          );
          const published = (gateway.telemetry.get(id) ?? []).filter((m) => m.bootId === bootId).map((m) => m.seq);
          assert.equal(new Set(published).size, published.length, `${dut.name}: a sample was published twice on MQTT`);
        }),
      );
    },
  );
});
