// REST client for the gateway's operator API. The session lives in an HttpOnly cookie the
// page cannot read; the page keeps only the CSRF token, in this module's memory (never in
// storage, never in a URL), and gets it again from GET /api/v1/session after a reload.

export class ApiError extends Error {
  /** @param {number} status @param {string} code @param {string} message @param {string} [hint] */
  constructor(status, code, message, hint) {
    super(message);
    this.status = status;
    this.code = code;
    this.hint = hint;
  }
  /** What to show a person: the message and, when the gateway gave one, what to do next. */
  get text() {
    return this.hint ? `${this.message} (${this.hint})` : this.message;
  }
}

/** @type {{scope: string, csrfToken: string, expiresAt: number} | null} */
let session = null;
/** @type {(err: ApiError) => void} */
let onSignedOut = () => {};

export const currentSession = () => session;
export const scopeAllows = (need) => {
  const order = ['read', 'operate', 'admin'];
  return session !== null && order.indexOf(session.scope) >= order.indexOf(need);
};
/** Called when the gateway answers 401 to anything but a sign-in: the session has ended. */
export function whenSignedOut(fn) {
  onSignedOut = fn;
}

/**
 * @param {string} method
 * @param {string} path
 * @param {unknown} [body]
 */
export async function api(method, path, body) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (method !== 'GET' && method !== 'HEAD' && session) headers['X-CSRF-Token'] = session.csrfToken;
  let res;
  try {
    res = await fetch(path, {
      method,
      headers,
      credentials: 'same-origin',
      cache: 'no-store',
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  } catch {
    throw new ApiError(0, 'NETWORK', 'the gateway cannot be reached', 'check that it is running');
  }
  if (res.status === 204) return undefined;
  let data;
  try {
    data = await res.json();
  } catch {
    data = undefined;
  }
  if (!res.ok) {
    const e = data?.error ?? {};
    const err = new ApiError(res.status, e.code ?? `HTTP_${res.status}`, e.message ?? res.statusText, e.hint);
    if (res.status === 401 && path !== '/api/v1/session' && session) {
      session = null;
      onSignedOut(err);
    }
    throw err;
  }
  return data;
}

/** Exchanges an operator API key for a session cookie. The key is not kept anywhere. */
export async function signIn(apiKey) {
  session = await api('POST', '/api/v1/session', { apiKey });
  return session;
}

/** The session of the cookie this browser holds, or null. */
export async function resumeSession() {
  try {
    session = await api('GET', '/api/v1/session');
  } catch (e) {
    if (e instanceof ApiError && (e.status === 401 || e.status === 403)) session = null;
    else throw e;
  }
  return session;
}

export async function signOut() {
  try {
    await api('DELETE', '/api/v1/session');
  } finally {
    session = null;
  }
}
