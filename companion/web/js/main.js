// The dashboard's entry point: session, navigation (hash routes: #/devices,
// #/devices/<id>, #/audit) and the one operator stream shared by every view.

import { ApiError, currentSession, resumeSession, scopeAllows, signIn, signOut, whenSignedOut } from './api.js';
import { AuditView } from './audit.js';
import { DevicePage } from './device-page.js';
import { DevicesTable } from './devices-table.js';
import { byId } from './dom.js';
import { Fleet, RSSI_METRICS } from './fleet.js';
import { OperatorStream } from './stream.js';

const fleet = new Fleet();
const stream = new OperatorStream();
const table = new DevicesTable(fleet);
const devicePage = new DevicePage(fleet, stream);
const audit = new AuditView();

const signinView = byId('signin-view');
const signinForm = /** @type {HTMLFormElement} */ (byId('signin-form'));
const keyInput = /** @type {HTMLInputElement} */ (byId('api-key'));
const signinError = byId('signin-error');
const signinSubmit = /** @type {HTMLButtonElement} */ (byId('signin-submit'));
const streamState = byId('stream-state');

const STREAM_TEXT = { connecting: 'Connecting…', live: 'Live', down: 'Reconnecting…' };

stream.on('status', (f) => fleet.status(f));
stream.on('telemetry', (f) => fleet.telemetry(f));
stream.on('config', (f) => fleet.config(f));
stream.on('deleted', (f) => fleet.remove(f));
stream.onState = (state) => {
  streamState.dataset.state = state;
  streamState.textContent = STREAM_TEXT[state];
};
stream.stillSignedIn = async () => {
  try {
    if (await resumeSession()) return true;
  } catch {
    return true; // the gateway is unreachable: keep trying
  }
  showSignIn('Your session has ended. Sign in again.');
  return false;
};
whenSignedOut(() => showSignIn('Your session has ended. Sign in again.'));

function showSignIn(message = '') {
  stream.stop();
  fleet.clear();
  devicePage.close();
  audit.close();
  table.hide();
  byId('boot').hidden = true;
  byId('nav').hidden = true;
  byId('session-bar').hidden = true;
  signinView.hidden = false;
  signinError.textContent = message;
  keyInput.focus();
}

function enter() {
  const s = currentSession();
  if (!s) return showSignIn();
  signinView.hidden = true;
  byId('boot').hidden = true;
  byId('nav').hidden = false;
  byId('session-bar').hidden = false;
  byId('session-scope').textContent = `Signed in: ${s.scope}`;
  byId('nav-audit').hidden = !scopeAllows('admin');
  stream.start();
  // The table needs only status frames and RSSI from everyone; a device page narrows this.
  stream.subscribe(['*'], RSSI_METRICS);
  fleet
    .load(() => table.refresh())
    .then(() => fleet.startPolling())
    .catch((e) => table.showError(`The device list did not load: ${e instanceof ApiError ? e.text : e}`));
  route(false);
}

/** @param {boolean} moveFocus on navigation, focus goes to the new view's heading for screen readers */
function route(moveFocus = true) {
  if (!currentSession()) return;
  const hash = location.hash;
  const device = /^#\/devices\/([^/]+)$/.exec(hash);
  let heading;
  devicePage.close();
  audit.close();
  table.hide();
  if (device) {
    void devicePage.open(decodeURIComponent(device[1] ?? ''));
    heading = 'device-title';
  } else if (hash === '#/audit' && scopeAllows('admin')) {
    stream.subscribe(['*'], RSSI_METRICS);
    void audit.open();
    heading = 'audit-title';
  } else {
    stream.subscribe(['*'], RSSI_METRICS);
    table.show();
    heading = 'devices-title';
  }
  for (const a of document.querySelectorAll('#nav a')) {
    const current = a.getAttribute('data-view') === (device ? 'devices' : hash === '#/audit' ? 'audit' : 'devices');
    if (current) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (moveFocus) {
    const h1 = byId(heading);
    h1.tabIndex = -1;
    h1.focus();
  }
}

signinForm.addEventListener('submit', async (e) => {
  e.preventDefault();
  const apiKey = keyInput.value.trim();
  if (!apiKey) {
    signinError.textContent = 'Enter an operator API key.';
    keyInput.focus();
    return;
  }
  signinSubmit.disabled = true;
  signinError.textContent = '';
  try {
    await signIn(apiKey);
    keyInput.value = ''; // the key is not kept: the cookie is the session now
    enter();
  } catch (err) {
    signinError.textContent =
      err instanceof ApiError && err.status === 401
        ? 'That key was not accepted. Check it and try again.'
        : `Sign-in failed: ${err instanceof ApiError ? err.text : err}`;
    keyInput.select();
  } finally {
    signinSubmit.disabled = false;
  }
});

byId('sign-out').addEventListener('click', async () => {
  try {
    await signOut();
  } catch {}
  location.hash = '';
  showSignIn('Signed out.');
});

window.addEventListener('hashchange', () => route(true));

try {
  if (await resumeSession()) enter();
  else showSignIn();
} catch (e) {
  showSignIn(`The gateway did not answer: ${e instanceof ApiError ? e.text : e}`);
}
