// Small DOM and formatting helpers. Text only ever goes in through textContent: the page
// runs with Trusted Types enforced, so an HTML string cannot reach the DOM by mistake.

/** @param {string} id */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the page has no #${id}`);
  return el;
}

/**
 * @param {string} tag
 * @param {Record<string, string>} [attrs]
 * @param {(Node | string)[]} children
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'text') el.textContent = v;
    else if (k === 'class') el.className = v;
    else el.setAttribute(k, v);
  }
  for (const c of children) el.append(c);
  return el;
}

/** Sets text only when it changed: a live table rewrites few cells and no layout it can avoid. */
export function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

const numberFmt = new Intl.NumberFormat();
export const fmtInt = (n) => numberFmt.format(n);
const valueFmt = new Intl.NumberFormat(undefined, { maximumSignificantDigits: 6 });
/** A metric value: at most six significant digits (sensor noise is not information). */
export const fmtValue = (n) => (typeof n === 'number' ? valueFmt.format(n) : '—');

const timeFmt = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
export const fmtTime = (ms) => (ms === null || ms === undefined ? '—' : timeFmt.format(new Date(ms)));

/** "12 s ago", "5 min ago", "3 h ago", "2 d ago". */
export function fmtAgo(ms, now = Date.now()) {
  if (ms === null || ms === undefined) return 'never';
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86400)} d ago`;
}

/** A datetime-local input value (local time) ↔ ms. */
export function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 19);
}
export function fromLocalInput(value) {
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}
