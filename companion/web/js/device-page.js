// One device: its facts, live and historical telemetry, commands with their results, and
// (admin) key rotation and revocation behind a confirmation dialog.

import { ApiError, api, scopeAllows } from './api.js';
import { HistoryCharts, LiveCharts } from './charts.js';
import { CommandPanel } from './commands.js';
import { confirmAction } from './dialog.js';
import { byId, fmtAgo, fmtInt, fmtTime, fromLocalInput, h, toLocalInput } from './dom.js';

const FACTS = [
  [
    'State',
    (d) =>
      d.state === 'revoked'
        ? 'Revoked'
        : d.online
          ? 'Online'
          : d.state === 'registered'
            ? 'Registered (never connected)'
            : 'Offline',
  ],
  ['Firmware', (d) => (d.firmware ? `${d.firmware.name} ${d.firmware.version}` : '—')],
  ['Chip', (d) => d.chip ?? '—'],
  ['MAC', (d) => d.mac ?? '—'],
  ['Last seen', (d) => (d.lastSeenAt ? `${fmtTime(d.lastSeenAt)} (${fmtAgo(d.lastSeenAt)})` : 'never')],
  ['RSSI', (d) => (typeof d.rssi === 'number' ? `${d.rssi} dBm` : '—')],
  ['Reconnects', (d) => (typeof d.reconnects === 'number' ? fmtInt(d.reconnects) : '—')],
  ['Registered', (d) => fmtTime(d.createdAt)],
  ['Key rotated', (d) => (d.keyRotatedAt ? fmtTime(d.keyRotatedAt) : '—')],
  ['Revoked', (d) => (d.revokedAt ? fmtTime(d.revokedAt) : '—')],
];

export class DevicePage {
  /** @param {import('./fleet.js').Fleet} fleet @param {import('./stream.js').OperatorStream} stream */
  constructor(fleet, stream) {
    this.fleet = fleet;
    this.stream = stream;
    this.view = byId('device-view');
    this.error = byId('device-error');
    this.chartStatus = byId('chart-status');
    this.live = new LiveCharts(byId('charts'), this.chartStatus, () => stream.dropped);
    this.history = new HistoryCharts(byId('charts'), this.chartStatus);
    this.commands = new CommandPanel(stream);
    /** @type {string | null} */
    this.id = null;
    /** @type {any} */
    this.device = null;
    this.mode = 'live';
    /** @type {(() => void)[]} */
    this.offs = [];

    // A change made elsewhere (another operator, the API, another instance) shows at once.
    stream.on('config', (f) => {
      if (f.deviceId === this.id) this.commands.showConfig(f);
    });
    stream.on('deleted', (f) => {
      if (f.deviceId === this.id) this.error.textContent = `This device was deleted at ${fmtTime(f.at)}.`;
    });
    fleet.onChange((ids) => {
      if (!this.id || (ids && !ids.has(this.id))) return;
      const d = fleet.byId.get(this.id);
      if (d) this.#facts({ ...this.device, ...d });
    });
    for (const radio of document.querySelectorAll('input[name="chart-mode"]'))
      radio.addEventListener('change', (e) => this.#setMode(/** @type {HTMLInputElement} */ (e.target).value));
    const windowSel = /** @type {HTMLSelectElement} */ (byId('live-window'));
    windowSel.addEventListener('change', () => this.live.setWindow(Number(windowSel.value)));
    const range = /** @type {HTMLSelectElement} */ (byId('history-range'));
    range.addEventListener('change', () => {
      const custom = range.value === 'custom';
      byId('history-from-field').hidden = !custom;
      byId('history-to-field').hidden = !custom;
      if (custom) {
        const now = Date.now();
        /** @type {HTMLInputElement} */ (byId('history-from')).value = toLocalInput(now - 3_600_000);
        /** @type {HTMLInputElement} */ (byId('history-to')).value = toLocalInput(now);
      }
    });
    byId('history-form').addEventListener('submit', (e) => {
      e.preventDefault();
      void this.#loadHistory();
    });
    byId('device-revoke').addEventListener('click', () => void this.#revoke());
    byId('device-rotate').addEventListener('click', () => void this.#rotate());
  }

  /** @param {string} id */
  async open(id) {
    this.close();
    this.id = id;
    this.view.hidden = false;
    this.error.textContent = '';
    byId('device-title').textContent = id;
    byId('device-admin').hidden = !scopeAllows('admin');
    this.commands.open(id);
    const known = this.fleet.byId.get(id);
    if (known) {
      this.#facts(known);
      this.commands.showConfig(known.config);
    }
    try {
      const d = await api('GET', `/api/v1/devices/${encodeURIComponent(id)}`);
      if (this.id !== id) return;
      this.#facts({ ...d, ...(this.fleet.byId.get(id) ?? {}), keyRotatedAt: d.keyRotatedAt });
      // The interval in force: the list the fleet holds may predate a change.
      this.commands.showConfig(d.config);
    } catch (e) {
      if (this.id === id) this.error.textContent = e instanceof ApiError ? e.text : String(e);
      return;
    }
    this.#setMode('live');
  }

  close() {
    if (this.id === null) return;
    for (const off of this.offs.splice(0)) off();
    this.live.stop();
    this.history.clear();
    this.commands.close();
    this.id = null;
    this.device = null;
    this.view.hidden = true;
  }

  #facts(d) {
    this.device = d;
    const dl = byId('device-facts');
    dl.replaceChildren(...FACTS.flatMap(([label, fn]) => [h('dt', { text: label }), h('dd', { text: fn(d) })]));
  }

  #setMode(mode) {
    const id = this.id;
    if (!id) return;
    this.mode = mode;
    for (const radio of /** @type {NodeListOf<HTMLInputElement>} */ (
      document.querySelectorAll('input[name="chart-mode"]')
    ))
      radio.checked = radio.value === mode;
    byId('live-controls').hidden = mode !== 'live';
    byId('history-form').hidden = mode !== 'history';
    for (const off of this.offs.splice(0)) off();
    this.live.stop();
    this.history.clear();
    if (mode === 'live') void this.#startLive(id);
    else {
      this.stream.subscribe([id], undefined);
      this.chartStatus.textContent = 'Choose a time range and load it.';
    }
  }

  /** Subscribes first and holds what arrives while the recent past loads, so no sample falls in between. */
  async #startLive(id) {
    /** @type {any[] | null} */
    let held = [];
    this.live.start();
    this.offs.push(
      this.stream.on('telemetry', (f) => {
        if (f.deviceId !== id) return;
        if (held) held.push(f);
        else this.live.push(f);
      }),
    );
    this.stream.subscribe([id], undefined);
    const seen = new Set();
    try {
      const now = Date.now();
      const q = new URLSearchParams({
        from: String(now - this.live.windowMs),
        to: String(now + 60_000),
        limit: '10000',
      });
      const past = await api('GET', `/api/v1/devices/${encodeURIComponent(id)}/telemetry?${q}`);
      if (this.id !== id || this.mode !== 'live') return;
      for (const p of past.points) {
        seen.add(`${p.bootId}:${p.seq}`);
        this.live.push(p);
      }
    } catch (e) {
      if (this.id === id)
        this.chartStatus.textContent = `Recent history unavailable: ${e instanceof ApiError ? e.text : e}`;
    } finally {
      const rest = held;
      held = null;
      if (this.id === id && this.mode === 'live')
        for (const f of rest ?? []) if (!seen.has(`${f.bootId}:${f.seq}`)) this.live.push(f);
    }
  }

  async #loadHistory() {
    const id = this.id;
    if (!id) return;
    const range = /** @type {HTMLSelectElement} */ (byId('history-range')).value;
    let from;
    let to;
    if (range === 'custom') {
      from = fromLocalInput(/** @type {HTMLInputElement} */ (byId('history-from')).value);
      to = fromLocalInput(/** @type {HTMLInputElement} */ (byId('history-to')).value);
      if (from === undefined || to === undefined || to <= from) {
        this.chartStatus.textContent = 'Give a start and an end, the end after the start.';
        return;
      }
    } else {
      to = Date.now();
      from = to - Number(range);
    }
    const b = /** @type {HTMLSelectElement} */ (byId('history-bucket')).value;
    try {
      await this.history.load(id, from, to, b === 'auto' ? 'auto' : Number(b), []);
    } catch (e) {
      this.chartStatus.textContent = `History failed: ${e instanceof ApiError ? e.text : e}`;
    }
  }

  async #revoke() {
    const id = this.id;
    if (!id) return;
    await confirmAction({
      title: `Revoke ${id}?`,
      message:
        'The device is disconnected at once and refused from now on. It can only come back with a new key (rotate) and re-provisioning.',
      confirm: 'Revoke device',
      run: async () => {
        const d = await api('POST', `/api/v1/devices/${encodeURIComponent(id)}/revoke`);
        this.fleet.replace(d);
        this.#facts({ ...this.device, ...d });
      },
    });
  }

  async #rotate() {
    const id = this.id;
    if (!id) return;
    await confirmAction({
      title: `Rotate the key of ${id}?`,
      message:
        'The current key stops working at once and the device is disconnected. Paste the public key (JWK) the device generated, e.g. from `kiln provision`.',
      confirm: 'Rotate key',
      keyField: true,
      run: async (text) => {
        let publicKey;
        try {
          publicKey = JSON.parse(text);
        } catch {
          throw new Error('the public key must be a JSON Web Key, e.g. {"kty":"EC","crv":"P-256","x":"…","y":"…"}');
        }
        const d = await api('POST', `/api/v1/devices/${encodeURIComponent(id)}/rotate-key`, { publicKey });
        this.fleet.replace(d);
        this.#facts({ ...this.device, ...d });
      },
    });
  }
}
