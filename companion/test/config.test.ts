/** Configuration: file < env < flags, validated at start-up; loopback default; redaction. */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadRunConfig } from '../src/cli.ts';
import { defaultConfig, resolveConfig } from '../src/config.ts';
import { ConfigError } from '../src/errors.ts';
import { redactDsn } from '../src/log.ts';
import { tempDir } from './helpers.ts';

describe('config', () => {
  it('layers defaults < file < environment < flags', () => {
    const t = tempDir();
    try {
      const file = join(t.dir, 'gw.yaml');
      writeFileSync(file, 'audience: from-file\ninstanceId: file-id\nlimits:\n  maxConnections: 77\n');
      const c = loadRunConfig(
        { config: file, instanceId: 'flag-id', dataDir: t.dir },
        { KILN_GATEWAY_AUDIENCE: 'from-env', KILN_GATEWAY_INSTANCE_ID: 'env-id' },
      );
      expect(c.audience).toBe('from-env');
      expect(c.instanceId).toBe('flag-id');
      expect(c.limits.maxConnections).toBe(77);
      expect(c.limits.maxPayloadBytes).toBe(65_536);
    } finally {
      t.remove();
    }
  });

  it('takes the shipped example file (companion/deploy/gateway.example.yaml) as documented', () => {
    const file = fileURLToPath(new URL('../deploy/gateway.example.yaml', import.meta.url));
    const c = loadRunConfig(
      { config: file },
      { KILN_GATEWAY_MQTT_URL: 'mqtts://kiln-gateway:secret@broker.example.com:8883' },
    );
    expect(c).toMatchObject({
      mode: 'production',
      listen: { host: '0.0.0.0', port: 8443 },
      instanceId: 'gw-a',
      tls: { certFile: '/etc/kiln/gateway.pem', keyFile: '/etc/kiln/gateway.key' },
      mqtt: { url: 'mqtts://kiln-gateway:secret@broker.example.com:8883', qos: 1 },
      corsOrigins: ['https://ops.example.com'],
      limits: { messagesPerSecPerDevice: 20, maxConnections: 20_000 },
      retention: { rawDays: 30, rollupDays: 365 },
    });
    // Without the file's allowPublicBind, its listen address is refused.
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^allowPublicBind: true$/m);
    const t = tempDir();
    try {
      const narrowed = join(t.dir, 'gw.yaml');
      writeFileSync(narrowed, text.replace(/^allowPublicBind: true\n/m, ''));
      expect(() => loadRunConfig({ config: narrowed }, {})).toThrow(/refusing to listen on 0\.0\.0\.0/);
    } finally {
      t.remove();
    }
  });

  it('refuses unknown keys and out-of-range limits with a ConfigError', () => {
    expect(() => resolveConfig({ nope: 1 } as never)).toThrow(ConfigError);
    expect(() => resolveConfig({ limits: { maxPayloadBytes: 1_000_000 } })).toThrow(/maxPayloadBytes/);
    expect(() => resolveConfig({ limits: { messagesPerSecPerDevice: 0 } })).toThrow(ConfigError);
    expect(() => resolveConfig({ mqtt: { url: 'http://x' } })).toThrow(/scheme/);
  });

  it('binds to loopback by default and needs --allow-public-bind for anything else', () => {
    expect(defaultConfig().listen.host).toBe('127.0.0.1');
    expect(defaultConfig().mqtt.listen?.host).toBe('127.0.0.1');
    expect(() => resolveConfig({ listen: { host: '0.0.0.0', port: 8443 } })).toThrow(/PUBLIC_BIND|loopback/);
    expect(resolveConfig({ listen: { host: '0.0.0.0', port: 8443 }, allowPublicBind: true }).listen.host).toBe(
      '0.0.0.0',
    );
  });

  it('redacts DSN credentials', () => {
    expect(redactDsn('mqtt://kiln:s3cret@broker:1883')).toBe('mqtt://kiln:***@broker:1883');
    expect(redactDsn('mqtts://broker:8883/?password=s3cret')).not.toContain('s3cret');
  });
});
