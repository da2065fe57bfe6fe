// The fleet as the page knows it: every device from GET /api/v1/devices, kept current by
// the operator stream (status frames: online, last seen; telemetry: RSSI; deleted frames). Views register
// for the ids that changed and redraw only those.

import { api } from './api.js';

const PAGE = 1000;
/** A page holds at most this many devices; past it the table says so and search narrows it. */
export const FLEET_CAP = 20_000;
const FETCH_ONE_BY_ONE = 20;
const POLL_MS = 60_000;

/**
 * @typedef {{id: string, state: string, online: boolean, chip: string | null, mac: string | null,
 *   firmware: {name: string, version: string} | null, lastSeenAt: number | null, rssi: number | null,
 *   reconnects: number | null, createdAt: number, revokedAt: number | null}} Device
 */

/** The list endpoint's page, whichever of its two spellings the gateway answers with. */
function readPage(body) {
  return 'items' in body
    ? { items: /** @type {Device[]} */ (body.items), next: body.nextCursor ?? null, param: 'cursor' }
    : { items: /** @type {Device[]} */ (body.devices ?? []), next: body.next ?? null, param: 'after' };
}

/** Metric names that carry the Wi-Fi RSSI: the generic one and the Kiln firmware's (as the gateway's store reads them). */
export const RSSI_METRICS = ['rssi', 'wifi_rssi'];

export class Fleet {
  /** @type {Map<string, Device>} */
  byId = new Map();
  loaded = false;
  capped = false;
  /** @type {Set<(ids: Set<string> | null) => void>} null: everything changed */
  #listeners = new Set();
  /** @type {Set<string>} */
  #dirty = new Set();
  #all = false;
  #frame = 0;
  #refreshTimer = 0;
  /** @type {Set<string>} */
  #cameOnline = new Set();
  #fetchTimer = 0;
  #pollTimer = 0;
  #lastRefresh = 0;

  /** @param {(ids: Set<string> | null) => void} fn */
  onChange(fn) {
    this.#listeners.add(fn);
    return () => this.#listeners.delete(fn);
  }

  /** Coalesces changes to one notification per animation frame. */
  #touch(id) {
    if (id === null) this.#all = true;
    else this.#dirty.add(id);
    if (this.#frame) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = 0;
      const ids = this.#all ? null : this.#dirty;
      this.#dirty = new Set();
      this.#all = false;
      for (const fn of this.#listeners) fn(ids);
    });
  }

  /** Loads every device, page by page; `firstPage` runs as soon as the first page is in. */
  async load(firstPage) {
    /** @type {Device[]} */
    const items = [];
    let cursor = null;
    let param = 'after';
    do {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (cursor) q.set(param, cursor);
      const page = readPage(await api('GET', `/api/v1/devices?${q}`));
      if (!this.loaded) {
        // First load: show the first page at once, the rest as it comes.
        for (const d of page.items) this.byId.set(d.id, { ...d, rssi: d.rssi ?? null });
        this.loaded = true;
        firstPage?.();
      }
      items.push(...page.items);
      cursor = page.next;
      param = page.param;
    } while (cursor && items.length < FLEET_CAP);
    this.capped = Boolean(cursor);
    // Merged at the end, against what the stream said meanwhile.
    const fresh = new Map();
    for (const d of items) fresh.set(d.id, this.#merge(d));
    this.byId = fresh;
    this.loaded = true;
    this.#lastRefresh = Date.now();
    this.#touch(null);
  }

  /** Keeps what the stream told us since if the list is older (a status frame beats a stale row). */
  #merge(d) {
    const known = this.byId.get(d.id);
    if (known && (known.lastSeenAt ?? 0) > (d.lastSeenAt ?? 0)) {
      return {
        ...d,
        online: known.online,
        state: known.state,
        lastSeenAt: known.lastSeenAt,
        rssi: known.rssi ?? d.rssi,
      };
    }
    return { ...d, rssi: d.rssi ?? known?.rssi ?? null };
  }

  /** A status frame from the stream. */
  status(f) {
    const d = this.byId.get(f.deviceId);
    if (!d) {
      // A device registered after the list was loaded.
      if (this.loaded) this.#fetchSoon(f.deviceId);
      return;
    }
    const cameOnline = f.online && !d.online;
    d.online = f.online;
    d.state = f.state ?? (f.online ? 'online' : 'offline');
    if (f.lastSeenAt !== undefined && f.lastSeenAt !== null) d.lastSeenAt = f.lastSeenAt;
    this.#touch(d.id);
    // A new session brings new hello facts (firmware, chip) and a reconnect count.
    if (cameOnline) this.#fetchSoon(d.id);
  }

  /** A few devices are fetched one by one; a wave of reconnects waits for one bulk reload. */
  #fetchSoon(id) {
    this.#cameOnline.add(id);
    if (this.#fetchTimer) return;
    this.#fetchTimer = setTimeout(() => {
      this.#fetchTimer = 0;
      const ids = [...this.#cameOnline];
      this.#cameOnline.clear();
      if (ids.length > FETCH_ONE_BY_ONE) return this.#scheduleRefresh();
      for (const one of ids)
        api('GET', `/api/v1/devices/${encodeURIComponent(one)}`)
          .then((fresh) => this.replace(fresh))
          .catch(() => {});
    }, 300);
  }

  /** A telemetry frame: the table shows the RSSI the device reports. */
  telemetry(f) {
    const d = this.byId.get(f.deviceId);
    const rssi = f.metrics?.rssi ?? f.metrics?.wifi_rssi;
    if (!d || typeof rssi !== 'number') return;
    d.rssi = rssi;
    if (f.ts > (d.lastSeenAt ?? 0)) d.lastSeenAt = f.ts;
    this.#touch(d.id);
  }

  /** A config frame: the intervals now in force, changed by an operator (maybe another one, on another instance). */
  config(f) {
    const d = this.byId.get(f.deviceId);
    if (!d) return;
    d.config = { telemetrySec: f.telemetrySec, heartbeatSec: f.heartbeatSec };
    this.#touch(d.id);
  }

  /** A deleted frame: the device is gone, on whichever instance it was deleted. */
  remove(f) {
    if (!this.byId.delete(f.deviceId)) return;
    this.#cameOnline.delete(f.deviceId);
    // What matches and the counts change, not only one row.
    this.#touch(null);
  }

  /** One device, fetched again: after an action on this page, a new session, or new to the page. */
  replace(d) {
    const added = !this.byId.has(d.id);
    this.byId.set(d.id, this.#merge(d));
    // A new device changes what matches and the order; a known one only its own row.
    this.#touch(added ? null : d.id);
  }

  /**
   * Devices registered since the page loaded send no status until they connect: the list is
   * read again every minute while the page is visible.
   */
  startPolling() {
    clearInterval(this.#pollTimer);
    this.#pollTimer = setInterval(() => {
      if (document.visibilityState === 'visible' && Date.now() - this.#lastRefresh > POLL_MS / 2)
        this.#scheduleRefresh();
    }, POLL_MS);
  }

  /** At most one full reload every 10 s, however many devices come online. */
  #scheduleRefresh() {
    if (this.#refreshTimer || !this.loaded) return;
    const wait = Math.max(2000, this.#lastRefresh + 10_000 - Date.now());
    this.#refreshTimer = setTimeout(() => {
      this.#refreshTimer = 0;
      this.load().catch(() => {});
    }, wait);
  }

  clear() {
    clearTimeout(this.#refreshTimer);
    clearTimeout(this.#fetchTimer);
    clearInterval(this.#pollTimer);
    this.#refreshTimer = 0;
    this.#fetchTimer = 0;
    this.#cameOnline.clear();
    this.byId = new Map();
    this.loaded = false;
  }
}
