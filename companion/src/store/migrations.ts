/**
 * Schema migrations, applied in order at start-up inside one transaction each;
 * PRAGMA user_version records how far a database has come. Append only: a shipped
 * migration is never edited.
 */
export const MIGRATIONS: readonly string[] = [
  // 1: the first schema.
  `
  CREATE TABLE devices (
    id TEXT PRIMARY KEY,
    public_key_jwk TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'registered' CHECK (state IN ('registered', 'online', 'offline', 'revoked')),
    created_at INTEGER NOT NULL,
    last_seen_at INTEGER,
    revoked_at INTEGER,
    key_rotated_at INTEGER,
    chip TEXT,
    mac TEXT,
    firmware_name TEXT,
    firmware_version TEXT,
    boot_id TEXT
  ) STRICT;
  CREATE INDEX devices_state ON devices (state, id);

  -- Exactly-once storage: a resent sample hits the primary key and is ignored.
  CREATE TABLE telemetry (
    device_id TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (device_id, boot_id, seq)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX telemetry_device_ts ON telemetry (device_id, ts);

  CREATE TABLE telemetry_rollup (
    device_id TEXT NOT NULL,
    metric TEXT NOT NULL,
    bucket_sec INTEGER NOT NULL,
    bucket_start INTEGER NOT NULL,
    count INTEGER NOT NULL,
    min REAL NOT NULL,
    max REAL NOT NULL,
    sum REAL NOT NULL,
    PRIMARY KEY (device_id, metric, bucket_sec, bucket_start)
  ) STRICT, WITHOUT ROWID;

  CREATE TABLE commands (
    id TEXT PRIMARY KEY,
    device_id TEXT NOT NULL,
    name TEXT NOT NULL,
    args TEXT,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'ok', 'error', 'unsupported', 'expired', 'timeout')),
    created_at INTEGER NOT NULL,
    sent_at INTEGER,
    completed_at INTEGER,
    expires_at INTEGER NOT NULL,
    result TEXT,
    error TEXT,
    created_by TEXT
  ) STRICT;
  CREATE INDEX commands_device_status ON commands (device_id, status, created_at);
  CREATE INDEX commands_open_expiry ON commands (status, expires_at);

  CREATE TABLE api_keys (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'operate', 'admin')),
    hash TEXT NOT NULL UNIQUE CHECK (hash LIKE 'h1:%'),
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  ) STRICT;

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT,
    ip TEXT
  ) STRICT;
  CREATE INDEX audit_at ON audit (at);
  `,
  // 2: the enroll scope (SQLite cannot alter a CHECK: the table is rebuilt, rows kept).
  `
  CREATE TABLE api_keys_v2 (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    scope TEXT NOT NULL CHECK (scope IN ('read', 'enroll', 'operate', 'admin')),
    hash TEXT NOT NULL UNIQUE CHECK (hash LIKE 'h1:%'),
    created_at INTEGER NOT NULL,
    last_used_at INTEGER,
    revoked_at INTEGER
  ) STRICT;
  INSERT INTO api_keys_v2 (id, name, scope, hash, created_at, last_used_at, revoked_at)
    SELECT id, name, scope, hash, created_at, last_used_at, revoked_at FROM api_keys;
  DROP TABLE api_keys;
  ALTER TABLE api_keys_v2 RENAME TO api_keys;
  `,
  // 3: what the operator's device table shows: last RSSI, sessions counted (reconnects), chip filter.
  `
  ALTER TABLE devices ADD COLUMN rssi REAL;
  ALTER TABLE devices ADD COLUMN rssi_at INTEGER;
  ALTER TABLE devices ADD COLUMN sessions INTEGER NOT NULL DEFAULT 0;
  CREATE INDEX devices_chip ON devices (chip, id);
  `,
  // 4: per-device telemetry and heartbeat intervals (NULL: the gateway's defaults), sent in welcome and config.
  `
  ALTER TABLE devices ADD COLUMN telemetry_sec INTEGER CHECK (telemetry_sec BETWEEN 1 AND 86400);
  ALTER TABLE devices ADD COLUMN heartbeat_sec INTEGER CHECK (heartbeat_sec BETWEEN 5 AND 3600);
  `,
  // 5: new samples land here first (one B-tree, the exactly-once key) and move to telemetry
  // by device range in bulk (telemetry-merge.ts). Readers see both tables.
  `
  CREATE TABLE telemetry_recent (
    device_id TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    PRIMARY KEY (device_id, boot_id, seq)
  ) STRICT, WITHOUT ROWID;
  `,
  // 6: retention finds expired rollups without scanning them all (retention.ts).
  `
  CREATE INDEX telemetry_rollup_start ON telemetry_rollup (bucket_start);
  `,
  // 7: device tokens used, until they expire (token-claims.ts): replay protection that holds
  // across a restart and across the instances sharing this database.
  `
  CREATE TABLE device_token_claims (
    device_id TEXT NOT NULL,
    jti TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    PRIMARY KEY (device_id, jti)
  ) STRICT, WITHOUT ROWID;
  CREATE INDEX device_token_claims_expiry ON device_token_claims (expires_at);
  `,
  // 8: per device and boot, a seq at or above every one telemetry holds (telemetry-merge.ts
  // keeps it): a new sample above it cannot be there, and skips the probe into that table.
  `
  CREATE TABLE telemetry_high_seq (
    device_id TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    PRIMARY KEY (device_id, boot_id)
  ) STRICT, WITHOUT ROWID;
  INSERT INTO telemetry_high_seq (device_id, boot_id, seq)
    SELECT device_id, boot_id, max(seq) FROM telemetry GROUP BY device_id, boot_id;
  `,
  // 9: every process that has the file open for writing, removed on a clean close (openers.ts):
  // the full integrity check at start only after an unclean stop.
  `
  CREATE TABLE store_openers (
    nonce TEXT PRIMARY KEY,
    host_boot TEXT NOT NULL,
    pid INTEGER NOT NULL,
    started INTEGER NOT NULL,
    file TEXT NOT NULL,
    opened_at INTEGER NOT NULL
  ) STRICT, WITHOUT ROWID;
  `,
  // 10: finished commands by when they finished, for retention (retention.commandDays).
  `
  CREATE INDEX commands_completed ON commands (completed_at) WHERE completed_at IS NOT NULL;
  `,
  // 11: commits append new samples here in arrival order, and they fold into telemetry_recent
  // by device range between commits (telemetry-inbox.ts). telemetry_fold says how far the
  // fold of the current chunk has come; telemetry_waiting is what readers still read here.
  `
  CREATE TABLE telemetry_inbox (
    n INTEGER PRIMARY KEY AUTOINCREMENT,
    device_id TEXT NOT NULL,
    boot_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    metrics TEXT NOT NULL
  ) STRICT;
  CREATE TABLE telemetry_fold (
    one INTEGER PRIMARY KEY CHECK (one = 1),
    upto INTEGER NOT NULL,
    below TEXT NOT NULL
  ) STRICT;
  INSERT INTO telemetry_fold (one, upto, below) VALUES (1, 0, '');
  CREATE VIEW telemetry_waiting AS
    SELECT i.device_id, i.boot_id, i.seq, i.ts, i.received_at, i.metrics
    FROM telemetry_inbox AS i, telemetry_fold AS f
    WHERE NOT (i.n <= f.upto AND i.device_id < f.below);
  `,
];
