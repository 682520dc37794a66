// @ts-check
/** What every view of the console shares: its context, errors in words, the busy state of a form. */
import { h } from './dom.js';

/**
 * @typedef {import('./api.js').StaffLogin} StaffLogin
 * @typedef {import('./api.js').Me} Me
 * @typedef {import('./waiting.js').WaitingRooms} WaitingRooms
 * @typedef {(key: string, values?: Record<string, string|number>) => string} T
 * @typedef {{
 *   api: StaffLogin, t: T, language: () => string, me: Me, waiting: WaitingRooms,
 *   go: (hash: string) => void, announce: (text: string) => void,
 * }} Context
 */

const KNOWN = new Set(['login-failed', 'too-many-attempts', 'not-found', 'conflict', 'forbidden', 'invalid-field',
  'record-erased', 'network', 'not-authenticated', 'body-too-large', 'malformed-request']);

/**
 * A problem from the API in the reader's words.
 * @param {T} t
 * @param {unknown} error
 */
export function problemText(t, error) {
  const problem = /** @type {{code?: string, retryAfter?: number|null, field?: string|null}} */ (error ?? {});
  const code = problem.code ?? '';
  if (code === 'too-many-attempts') {
    const seconds = problem.retryAfter ?? 60;
    return seconds >= 90 ? t('error.too-many-attempts.minutes', { minutes: Math.ceil(seconds / 60) })
      : t('error.too-many-attempts.seconds', { seconds });
  }
  if (code === 'invalid-field' && problem.field) {
    const specific = t(`error.field.${problem.field}`);
    if (specific !== `error.field.${problem.field}`) return specific;
  }
  return t(KNOWN.has(code) ? `error.${code}` : 'error.other');
}

/**
 * An error line placed next to what failed; `show(error)` fills it, `clear()` empties it.
 * @param {T} t
 */
export function errorLine(t) {
  const line = h('p', { class: 'error', role: 'alert', hidden: true });
  return {
    element: line,
    /** @param {unknown} error */
    show(error) {
      line.textContent = problemText(t, error);
      line.hidden = false;
    },
    /** @param {string} text */
    say(text) {
      line.textContent = text;
      line.hidden = false;
    },
    clear() {
      line.textContent = '';
      line.hidden = true;
    },
  };
}

/**
 * Run `work` with the form's submit buttons disabled; its error goes to `errors`. Typed values stay put.
 * @param {HTMLFormElement} form
 * @param {ReturnType<typeof errorLine>} errors
 * @param {() => Promise<void>} work
 */
export async function submitting(form, errors, work) {
  const buttons = [...form.querySelectorAll('button')];
  buttons.forEach((button) => { button.disabled = true; });
  form.setAttribute('aria-busy', 'true');
  errors.clear();
  try {
    await work();
  } catch (error) {
    errors.show(error);
  } finally {
    buttons.forEach((button) => { button.disabled = false; });
    form.removeAttribute('aria-busy');
  }
}

/**
 * A view's top: its heading (focused on arrival, so screen readers start there) and a back link.
 * @param {string} title
 * @param {{href: string, text: string}} [back]
 */
export function viewHeading(title, back) {
  return h('header', { class: 'view-head' },
    back ? h('a', { href: back.href, class: 'back' }, back.text) : null,
    h('h1', { tabindex: '-1', id: 'view-title' }, title));
}

/**
 * Open the call page for a session in a new tab; the token rides in the fragment, never sent to a server.
 * @param {Context} ctx
 * @param {string} sessionId
 */
export function openCall(ctx, sessionId) {
  const token = ctx.api.accessToken ?? '';
  window.open(`/call#staff=${encodeURIComponent(token)}&session=${encodeURIComponent(sessionId)}`, '_blank',
    'noopener');
}

/**
 * A small count badge of people waiting for a session; updated by `refreshBadges`.
 * @param {Context} ctx
 * @param {string} sessionId
 */
export function waitingBadge(ctx, sessionId) {
  const badge = h('span', { class: 'badge', 'data-waiting-session': sessionId, hidden: true });
  fillBadge(ctx, badge);
  return badge;
}

/**
 * @param {Context} ctx
 * @param {HTMLElement} badge
 */
export function fillBadge(ctx, badge) {
  const count = ctx.waiting.count(badge.dataset.waitingSession ?? '');
  badge.hidden = count === 0;
  badge.textContent = count === 0 ? '' : ctx.t('waiting.count', { count });
}

/** @param {Context} ctx */
export function refreshBadges(ctx) {
  document.querySelectorAll('[data-waiting-session]').forEach((badge) => fillBadge(ctx, /** @type {HTMLElement} */ (badge)));
}
