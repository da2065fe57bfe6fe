// The confirmation dialog for irreversible actions (revoke, rotate). A modal <dialog>:
// focus moves into it, Tab and Shift+Tab cycle inside it, Escape cancels, and focus goes
// back to the control that opened it. The action runs on confirm; its error stays in the
// dialog so the person can correct the input or cancel.

import { ApiError } from './api.js';
import { byId } from './dom.js';

const FOCUSABLE =
  'button:not([disabled]), input:not([disabled]), textarea:not([disabled]), select:not([disabled]), [href]';

/**
 * @param {{title: string, message: string, confirm: string, keyField?: boolean,
 *   run: (key: string) => Promise<void>}} opts
 * @returns {Promise<boolean>} whether the action ran
 */
export function confirmAction(opts) {
  const dialog = /** @type {HTMLDialogElement} */ (byId('confirm-dialog'));
  const form = /** @type {HTMLFormElement} */ (byId('confirm-form'));
  const ok = /** @type {HTMLButtonElement} */ (byId('confirm-ok'));
  const cancel = byId('confirm-cancel');
  const key = /** @type {HTMLTextAreaElement} */ (byId('confirm-key'));
  const error = byId('confirm-error');
  const opener = document.activeElement instanceof HTMLElement ? document.activeElement : null;

  byId('confirm-title').textContent = opts.title;
  byId('confirm-message').textContent = opts.message;
  ok.textContent = opts.confirm;
  ok.disabled = false;
  error.textContent = '';
  key.value = '';
  byId('confirm-key-field').hidden = !opts.keyField;

  return new Promise((resolve) => {
    const trap = (/** @type {KeyboardEvent} */ e) => {
      if (e.key !== 'Tab') return;
      const items = [...dialog.querySelectorAll(FOCUSABLE)].filter(
        (el) => el instanceof HTMLElement && el.offsetParent !== null,
      );
      const first = items[0];
      const last = items.at(-1);
      if (!(first instanceof HTMLElement) || !(last instanceof HTMLElement)) return;
      if (e.shiftKey && document.activeElement === first) {
        e.preventDefault();
        last.focus();
      } else if (!e.shiftKey && document.activeElement === last) {
        e.preventDefault();
        first.focus();
      }
    };
    const finish = (done) => {
      dialog.removeEventListener('keydown', trap);
      dialog.removeEventListener('cancel', onCancel);
      form.removeEventListener('submit', onSubmit);
      cancel.removeEventListener('click', onCancel);
      if (dialog.open) dialog.close();
      opener?.focus();
      resolve(done);
    };
    const onCancel = (/** @type {Event} */ e) => {
      e.preventDefault();
      finish(false);
    };
    const onSubmit = async (/** @type {SubmitEvent} */ e) => {
      e.preventDefault();
      ok.disabled = true;
      error.textContent = '';
      try {
        await opts.run(key.value.trim());
        finish(true);
      } catch (err) {
        error.textContent = err instanceof ApiError ? err.text : String(err instanceof Error ? err.message : err);
        ok.disabled = false;
      }
    };
    dialog.addEventListener('keydown', trap);
    dialog.addEventListener('cancel', onCancel);
    form.addEventListener('submit', onSubmit);
    cancel.addEventListener('click', onCancel);
    dialog.showModal();
    // The safe choice has the focus: Enter on an opened dialog must not revoke a device.
    (opts.keyField ? key : cancel).focus();
  });
}
