// The audit log (admin): operator actions, newest first, 100 at a time.

import { ApiError, api } from './api.js';
import { byId, fmtTime, h } from './dom.js';

const PAGE = 100;

export class AuditView {
  constructor() {
    this.view = byId('audit-view');
    this.tbody = /** @type {HTMLTableSectionElement} */ (byId('audit-table').querySelector('tbody'));
    this.more = /** @type {HTMLButtonElement} */ (byId('audit-more'));
    this.error = byId('audit-error');
    /** @type {number | undefined} */
    this.before = undefined;
    this.more.addEventListener('click', () => void this.#load());
  }

  async open() {
    this.view.hidden = false;
    this.tbody.replaceChildren();
    this.before = undefined;
    await this.#load();
  }

  close() {
    this.view.hidden = true;
  }

  async #load() {
    this.error.textContent = '';
    this.more.disabled = true;
    try {
      const q = new URLSearchParams({ limit: String(PAGE) });
      if (this.before !== undefined) q.set('before', String(this.before));
      const r = await api('GET', `/api/v1/audit?${q}`);
      const entries = r.entries ?? r.items ?? [];
      this.tbody.append(
        ...entries.map((e) =>
          h(
            'tr',
            {},
            h('td', {}, h('time', { datetime: new Date(e.at).toISOString(), text: fmtTime(e.at) })),
            h('td', { text: e.actor }),
            h('td', { text: e.action }),
            h('td', { text: e.target ?? '—' }),
            h('td', { text: e.ip ?? '—' }),
            h('td', {
              class: 'detail',
              text: e.detail === null || e.detail === undefined ? '' : JSON.stringify(e.detail),
            }),
          ),
        ),
      );
      this.before = entries.at(-1)?.id;
      this.more.disabled = entries.length < PAGE;
      this.more.textContent = entries.length < PAGE ? 'No older entries' : 'Load older entries';
    } catch (e) {
      this.error.textContent = e instanceof ApiError ? e.text : String(e);
      this.more.disabled = false;
    }
  }
}
