/**
 * The live table's source: the gateway's MQTT bridge, as any operator tool would see
 * it — `kiln/v1/<id>/status` (retained: online/offline and when last seen) and
 * `kiln/v1/<id>/telemetry` (each stored sample with its seq). It logs in with a
 * read-scoped key: watching needs nothing more.
 */
import { randomUUID } from 'node:crypto';
import { parseTopic } from '@kiln/protocol';
import { connectAsync, type MqttClient } from 'mqtt';

export type DeviceNews =
  | { kind: 'status'; deviceId: string; state: 'online' | 'offline' | 'revoked'; lastSeen: number | undefined }
  | { kind: 'telemetry'; deviceId: string; seq: number; receivedAt: number };

export class FleetWatch {
  private constructor(private readonly client: MqttClient) {}

  static async start(
    mqttUrl: string,
    readKey: string,
    onNews: (n: DeviceNews) => void,
    onProblem: (text: string) => void,
  ): Promise<FleetWatch> {
    const client = await connectAsync(mqttUrl, {
      username: 'kiln-up',
      password: readKey,
      clientId: `kiln-up-${randomUUID().slice(0, 8)}`,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    });
    client.on('error', (e) => onProblem(`MQTT: ${e.message}`));
    client.on('message', (topic, payload) => {
      const t = parseTopic(topic);
      if (!t || (t.kind !== 'status' && t.kind !== 'telemetry')) return;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
      } catch {
        return;
      }
      if (t.kind === 'telemetry' && typeof body.seq === 'number') {
        onNews({ kind: 'telemetry', deviceId: t.deviceId, seq: body.seq, receivedAt: Date.now() });
      } else if (
        t.kind === 'status' &&
        (body.state === 'online' || body.state === 'offline' || body.state === 'revoked')
      ) {
        const lastSeen = typeof body.lastSeen === 'number' ? body.lastSeen : undefined;
        onNews({ kind: 'status', deviceId: t.deviceId, state: body.state, lastSeen });
      }
    });
    try {
      await client.subscribeAsync(['kiln/v1/+/status', 'kiln/v1/+/telemetry'], { qos: 1 });
    } catch (e) {
      await client.endAsync(true);
      throw e;
    }
    return new FleetWatch(client);
  }

  async close(): Promise<void> {
    await this.client.endAsync(true).catch(() => {});
  }
}
