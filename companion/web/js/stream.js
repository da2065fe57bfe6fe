// The operator stream: one WebSocket per page to /api/v1/stream (subprotocol
// kiln.operator.v1), authenticated by the session cookie the browser sends with the
// upgrade. It carries status frames for every device, and telemetry for what the page
// subscribed to. Reconnects with capped exponential backoff and full jitter.

const PROTOCOL = 'kiln.operator.v1';
const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30_000;

export class OperatorStream {
  /** @type {WebSocket | null} */
  #ws = null;
  #attempt = 0;
  #timer = 0;
  #stopped = true;
  /** @type {{type: 'subscribe', devices: string[], metrics?: string[]}} */
  #subscription = { type: 'subscribe', devices: [] };
  /** @type {Map<string, Set<(frame: any) => void>>} */
  #listeners = new Map();
  /** @type {(state: 'connecting' | 'live' | 'down') => void} */
  onState = () => {};
  /** Asked after a refused or lost connection: false stops reconnecting (signed out). */
  stillSignedIn = async () => true;
  /** Telemetry frames the gateway dropped for this page because it could not keep up. */
  dropped = 0;

  start() {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    clearTimeout(this.#timer);
    this.#ws?.close(1000);
    this.#ws = null;
  }

  /** Replaces the subscription; status frames always come. */
  subscribe(devices, metrics) {
    this.#subscription = { type: 'subscribe', devices, ...(metrics ? { metrics } : {}) };
    if (this.#ws?.readyState === WebSocket.OPEN) this.#ws.send(JSON.stringify(this.#subscription));
  }

  /** @param {string} type @param {(frame: any) => void} fn @returns {() => void} unsubscribe */
  on(type, fn) {
    const set = this.#listeners.get(type) ?? new Set();
    this.#listeners.set(type, set);
    set.add(fn);
    return () => set.delete(fn);
  }

  #emit(frame) {
    const set = this.#listeners.get(frame.type);
    if (set) for (const fn of set) fn(frame);
  }

  #connect() {
    this.onState('connecting');
    const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
    const ws = new WebSocket(`${scheme}//${location.host}/api/v1/stream`, PROTOCOL);
    this.#ws = ws;
    let opened = false;
    ws.onopen = () => {
      opened = true;
      this.onState('live');
      ws.send(JSON.stringify(this.#subscription));
    };
    ws.onmessage = (ev) => {
      let frame;
      try {
        frame = JSON.parse(ev.data);
      } catch {
        return;
      }
      if (frame.type === 'hello') this.#attempt = 0; // a stable connection resets the backoff
      if (frame.type === 'dropped') this.dropped += frame.count;
      this.#emit(frame);
    };
    ws.onclose = async (ev) => {
      if (this.#ws !== ws) return;
      this.#ws = null;
      if (this.#stopped) return;
      this.onState('down');
      // A refused upgrade (signed out, session expired) looks like any failed connection here.
      if ((!opened || ev.code === 1008) && !(await this.stillSignedIn())) {
        this.#stopped = true;
        return;
      }
      const cap = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** this.#attempt++);
      this.#timer = setTimeout(() => this.#connect(), Math.random() * cap);
    };
  }
}
