// Commands from the device page: identify and reboot. A command is created over REST (202,
// pending); its result comes back as a `command` frame on the operator stream, and the
// command is also polled until it ends, so a result shows even while the stream reconnects.
// The telemetry interval is not a command but device configuration (PUT …/config): the
// gateway keeps it and sends it to the device now, or in the welcome of its next session.

import { ApiError, api, scopeAllows } from './api.js';
import { byId, fmtTime, h, setText } from './dom.js';

/** The names and arguments the device firmware answers to (see firmware/components/kiln_device). */
export const COMMANDS = {
  identify: () => ({ name: 'identify' }),
  reboot: () => ({ name: 'reboot' }),
};
const ENDED = new Set(['ok', 'error', 'unsupported', 'expired', 'timeout']);
const POLL_MS = 2000;
const POLL_FOR_MS = 120_000;

export class CommandPanel {
  /** @param {import('./stream.js').OperatorStream} stream */
  constructor(stream) {
    this.stream = stream;
    this.tbody = /** @type {HTMLTableSectionElement} */ (byId('commands-table').querySelector('tbody'));
    this.status = byId('command-status');
    this.interval = /** @type {HTMLInputElement} */ (byId('interval-sec'));
    /** @type {string | null} */
    this.deviceId = null;
    /** @type {Map<string, {row: HTMLTableRowElement, cmd: any}>} */
    this.rows = new Map();
    /** @type {Set<number>} */
    this.timers = new Set();
    this.off = () => {};
    byId('cmd-identify').addEventListener('click', () => void this.send(COMMANDS.identify()));
    byId('cmd-reboot').addEventListener('click', () => void this.send(COMMANDS.reboot()));
    byId('interval-form').addEventListener('submit', (e) => {
      e.preventDefault();
      if (!this.interval.checkValidity()) {
        setText(this.status, 'The interval is a whole number of seconds, 1 to 86400.');
        this.interval.focus();
        return;
      }
      void this.setTelemetryInterval(Number(this.interval.value));
    });
  }

  /**
   * Shows the interval in force (a device item's `config`) in the input, unless the person
   * is typing there.
   * @param {{telemetrySec?: number} | undefined} config
   */
  showConfig(config) {
    if (typeof config?.telemetrySec !== 'number' || document.activeElement === this.interval) return;
    this.interval.value = String(config.telemetrySec);
  }

  /** @param {number} seconds */
  async setTelemetryInterval(seconds) {
    const deviceId = this.deviceId;
    if (!deviceId) return;
    setText(this.status, `Telemetry interval: setting ${seconds} s…`);
    let r;
    try {
      r = await api('PUT', `/api/v1/devices/${encodeURIComponent(deviceId)}/config`, { telemetrySec: seconds });
    } catch (e) {
      if (this.deviceId === deviceId)
        setText(this.status, `The telemetry interval was not changed: ${e instanceof ApiError ? e.text : e}`);
      return;
    }
    if (this.deviceId !== deviceId) return;
    this.interval.value = String(r.telemetrySec);
    setText(
      this.status,
      `telemetry every ${r.telemetrySec} s — ${r.delivered ? 'applied now' : 'applied at next connection (the device is not connected to this gateway)'}`,
    );
  }

  /** @param {string} deviceId */
  open(deviceId) {
    this.deviceId = deviceId;
    this.rows.clear();
    this.tbody.replaceChildren();
    this.status.textContent = '';
    // Until the device's own interval is known, the field shows none rather than another device's.
    this.interval.value = '';
    const allowed = scopeAllows('operate');
    for (const b of byId('command-actions').querySelectorAll('button, input')) b.toggleAttribute('disabled', !allowed);
    if (!allowed) this.status.textContent = 'Sending commands and setting the interval need an operate or admin key.';
    this.off = this.stream.on('command', (f) => {
      if (f.deviceId === this.deviceId) this.#update(f);
    });
    api('GET', `/api/v1/devices/${encodeURIComponent(deviceId)}/commands?limit=20`)
      .then((r) => {
        if (this.deviceId !== deviceId) return;
        for (const c of [...(r.commands ?? r.items ?? [])].reverse()) this.#update(c, false);
      })
      .catch(() => {});
  }

  close() {
    this.off();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.deviceId = null;
  }

  /** @param {{name: string, args?: object}} command */
  async send(command) {
    const deviceId = this.deviceId;
    if (!deviceId) return;
    setText(this.status, `${command.name}: sending…`);
    let row;
    try {
      row = await api('POST', `/api/v1/devices/${encodeURIComponent(deviceId)}/commands`, command);
    } catch (e) {
      setText(this.status, `${command.name} was not sent: ${e instanceof ApiError ? e.text : e}`);
      return;
    }
    if (this.deviceId !== deviceId) return;
    this.#update(row);
    this.#poll(deviceId, row.id, Date.now() + POLL_FOR_MS);
  }

  #poll(deviceId, id, until) {
    const t = setTimeout(async () => {
      this.timers.delete(t);
      const known = this.rows.get(id);
      if (this.deviceId !== deviceId || (known && ENDED.has(known.cmd.status)) || Date.now() > until) return;
      try {
        const c = await api('GET', `/api/v1/commands/${encodeURIComponent(id)}`);
        if (this.deviceId === deviceId) this.#update(c);
      } catch {}
      this.#poll(deviceId, id, until);
    }, POLL_MS);
    this.timers.add(t);
  }

  /** A command row from REST, or a `command` frame from the stream; announce: say it in the status line. */
  #update(c, announce = true) {
    const known = this.rows.get(c.id);
    // A late answer (the POST's own reply, a poll) must not undo a result the stream already gave.
    const stale = known && ENDED.has(known.cmd.status) && !ENDED.has(c.status);
    const cmd = stale ? { ...c, ...known.cmd } : { ...(known?.cmd ?? {}), ...c };
    let row = known?.row;
    if (!row) {
      row = /** @type {HTMLTableRowElement} */ (
        h('tr', { 'data-command': c.id }, h('td'), h('td'), h('td'), h('td', { class: 'result' }))
      );
      this.tbody.prepend(row);
      while (this.tbody.rows.length > 20) this.tbody.lastElementChild?.remove();
    }
    this.rows.set(c.id, { row, cmd });
    const [sent, name, status, result] = /** @type {HTMLElement[]} */ ([...row.cells]);
    setText(sent, fmtTime(cmd.createdAt ?? Date.now()));
    setText(name, cmd.args ? `${cmd.name} ${JSON.stringify(cmd.args)}` : (cmd.name ?? ''));
    setText(status, cmd.status);
    status.className = `status-${cmd.status}`;
    setText(result, describe(cmd));
    if (announce)
      setText(
        this.status,
        `${cmd.name ?? 'command'}: ${cmd.status}${ENDED.has(cmd.status) ? ` — ${describe(cmd)}` : ''}`,
      );
  }
}

function describe(c) {
  if (c.error) return c.error;
  if (c.result && Object.keys(c.result).length) return JSON.stringify(c.result);
  switch (c.status) {
    case 'pending':
      return 'queued for the device';
    case 'sent':
      return 'delivered, waiting for the device to answer';
    case 'ok':
      return 'done';
    case 'unsupported':
      return 'the device firmware does not know this command';
    case 'timeout':
      return 'the device did not answer in time';
    case 'expired':
      return 'expired before the device could run it';
    default:
      return '';
  }
}
