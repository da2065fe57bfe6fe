import { describe, expect, it } from 'vitest';
import { filterStaysWithinDevice, ProtocolError, parseTopic, topics } from '../src/index.ts';

describe('MQTT topics', () => {
  it('builds the five topics of SPEC §1.7', () => {
    expect(topics.telemetry('kiln-a1')).toBe('kiln/v1/kiln-a1/telemetry');
    expect(topics.config('kiln-a1')).toBe('kiln/v1/kiln-a1/config');
    expect(topics.key('kiln-a1')).toBe('kiln/v1/kiln-a1/key');
    expect(topics.status('kiln-a1')).toBe('kiln/v1/kiln-a1/status');
    expect(topics.command('kiln-a1')).toBe('kiln/v1/kiln-a1/cmd');
    expect(topics.commandResult('kiln-a1', 'c-9')).toBe('kiln/v1/kiln-a1/cmd/c-9/result');
  });
  it.each(['+', '#', 'a/b', 'kiln-+', 'ab', '', 'A1-upper', 'a'.repeat(65), 'dev\u0000x'])(
    'refuses the device id %j, which could widen or break a topic',
    (id) => {
      expect(() => topics.telemetry(id)).toThrow(ProtocolError);
    },
  );
  it.each(['', '+', 'a/b', 'x'.repeat(65), 'a b'])('refuses the command id %j', (id) => {
    expect(() => topics.commandResult('kiln-a1', id)).toThrow(/not a command id/);
  });
  it('parses what it builds and nothing else', () => {
    expect(parseTopic('kiln/v1/kiln-a1/telemetry')).toEqual({ kind: 'telemetry', deviceId: 'kiln-a1' });
    expect(parseTopic('kiln/v1/kiln-a1/config')).toEqual({ kind: 'config', deviceId: 'kiln-a1' });
    expect(parseTopic('kiln/v1/kiln-a1/key')).toEqual({ kind: 'key', deviceId: 'kiln-a1' });
    expect(parseTopic('kiln/v1/kiln-a1/cmd/c-9/result')).toEqual({
      kind: 'commandResult',
      deviceId: 'kiln-a1',
      commandId: 'c-9',
    });
    for (const t of [
      'kiln/v1/+/telemetry',
      'kiln/v1/#',
      'kiln/v2/kiln-a1/status',
      'kiln/v1/kiln-a1/status/x',
      'kiln/v1/kiln-a1/config/x',
      'kiln/v1/kiln-a1/key/x',
      'kiln/v1/kiln-a1/cmd/+/result',
      'other',
    ]) {
      expect(parseTopic(t)).toBeUndefined();
    }
  });
  it('tells whether a subscription filter stays inside one device', () => {
    expect(filterStaysWithinDevice('kiln/v1/kiln-a1/cmd', 'kiln-a1')).toBe(true);
    expect(filterStaysWithinDevice('kiln/v1/kiln-a1/#', 'kiln-a1')).toBe(true);
    expect(filterStaysWithinDevice('kiln/v1/+/cmd', 'kiln-a1')).toBe(false);
    expect(filterStaysWithinDevice('kiln/v1/kiln-a10/cmd', 'kiln-a1')).toBe(false);
    expect(filterStaysWithinDevice('#', 'kiln-a1')).toBe(false);
  });
});
