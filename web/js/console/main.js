// @ts-check
/**
 * The staff console, one page: log in, then views chosen by the address's
 * fragment (#/cases, #/case/REF, #/record/ID, ...) so a reload keeps the view.
 */
import { LANGUAGES, chooseLanguage, currentLanguage, translator } from '../i18n.js';
import { ApiProblem, StaffLogin } from './api.js';
import { h, field } from './dom.js';
import { errorLine, refreshBadges, submitting } from './common.js';
import { titleWith } from './format.js';
import { TEXT } from './text.js';
import { WaitingRooms } from './waiting.js';
import { myCasesView } from './cases.js';
import { caseView } from './case.js';
import { followUpsView, recordView } from './record.js';
import { ALERT_POLL_MS, alertsView, auditView, fillAlerts, staffView, teamView } from './supervision.js';

const t = translator(TEXT);
const root = /** @type {HTMLElement} */ (document.getElementById('console'));
const nav = /** @type {HTMLElement} */ (document.getElementById('console-nav'));
const announcer = /** @type {HTMLElement} */ (document.getElementById('announcer'));
const languageSwitch = /** @type {HTMLElement} */ (document.getElementById('language'));

/** @type {import('./api.js').Me|null} */
let me = null;
/** @type {{alerts: any[], error: unknown}} */
const alerts = { alerts: [], error: null };
/** @type {ReturnType<typeof setInterval>|null} */
let alertTimer = null;
let totalWaiting = 0;

const api = new StaffLogin({ onEnded: (reason) => ended(reason) });
const waiting = new WaitingRooms((_counts, total) => {
  totalWaiting = total;
  refreshBadges(context());
  updateTitle();
  const badge = document.getElementById('waiting-total');
  if (badge) {
    badge.hidden = total === 0;
    badge.textContent = t('waiting.total', { count: total });
  }
});

/** @returns {import('./common.js').Context} */
function context() {
  return {
    api, t, language: currentLanguage, waiting, go: (hash) => { window.location.hash = hash; }, announce,
    me: /** @type {import('./api.js').Me} */ (me),
  };
}

/** @param {string} text */
function announce(text) {
  announcer.textContent = '';
  // A new text node each time, so screen readers read the same words twice too.
  window.setTimeout(() => { announcer.textContent = text; }, 30);
}

let baseTitle = t('title');
function updateTitle() {
  document.title = titleWith(baseTitle, totalWaiting);
}

/** The fragment as a route: [name, argument]. */
function route() {
  const [, name = '', argument = ''] = window.location.hash.split('/');
  return [name, decodeURIComponent(argument)];
}

function homeOf(/** @type {string} */ role) {
  return role === 'supervisor' ? 'team' : role === 'admin' ? 'staff' : 'cases';
}

/** Draw the language switch (both languages named in their own words). */
function drawLanguageSwitch() {
  const language = currentLanguage();
  languageSwitch.replaceChildren(...LANGUAGES.map((code) => h('button', {
    type: 'button', lang: code, 'aria-pressed': String(code === language), class: 'language',
    onclick: () => {
      chooseLanguage(code);
      redraw();
    },
  }, t(`language.name.${code}`))));
  languageSwitch.setAttribute('aria-label', t('language.switch'));
}

function drawNav() {
  if (!me) {
    nav.replaceChildren();
    nav.hidden = true;
    return;
  }
  const [current] = route();
  /** @type {Array<[string, string]>} */
  const links = me.role === 'worker' ? [['cases', 'nav.cases'], ['follow-ups', 'nav.follow-ups'], ['alerts', 'nav.alerts']]
    : me.role === 'supervisor' ? [['team', 'nav.team'], ['alerts', 'nav.alerts'], ['follow-ups', 'nav.follow-ups'],
      ['audit', 'nav.audit']] : [['staff', 'nav.staff']];
  const open = alerts.alerts.filter((a) => !a.acknowledged).length;
  nav.hidden = false;
  nav.setAttribute('aria-label', t('nav.label'));
  nav.replaceChildren(
    h('ul', {}, ...links.map(([name, key]) => h('li', {},
      h('a', { href: `#/${name}`, 'aria-current': name === current ? 'page' : false },
        t(key), name === 'alerts' && open ? h('span', { class: 'badge alert-badge', 'data-open-alerts': open },
          t('alerts.count', { count: open })) : null)))),
    h('p', { class: 'who' }, t('signed-in-as', { name: me.display_name, role: t(`staff-role.${me.role}`) }),
      ' ', h('span', { id: 'waiting-total', class: 'badge', hidden: totalWaiting === 0 },
        t('waiting.total', { count: totalWaiting }))),
    h('button', { type: 'button', id: 'logout', onclick: () => api.logOut().catch(() => {}) }, t('logout')));
}

/** @param {string} [message] a calm line above the form (why the login ended) */
function showLogin(message) {
  me = null;
  stopAlerts();
  drawNav();
  baseTitle = t('title');
  updateTitle();
  const errors = errorLine(t);
  const username = h('input', { type: 'text', name: 'username', autocomplete: 'username', required: true,
    autocapitalize: 'none', spellcheck: 'false' });
  const password = h('input', { type: 'password', name: 'password', autocomplete: 'current-password', required: true });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'panel login', 'aria-labelledby': 'view-title' },
    h('h1', { id: 'view-title', tabindex: '-1' }, t('login.title')),
    message ? h('p', { class: 'notice', role: 'status' }, message) : null,
    field(t('login.username'), username), field(t('login.password'), password),
    h('button', { type: 'submit', class: 'primary' }, t('login.submit')), errors.element));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    waiting.unlock();
    submitting(form, errors, async () => {
      await api.logIn(/** @type {HTMLInputElement} */ (username).value,
        /** @type {HTMLInputElement} */ (password).value);
      /** @type {HTMLInputElement} */ (password).value = '';
      await start();
    });
  });
  root.replaceChildren(form);
  /** @type {HTMLElement} */ (username).focus();
}

/** @param {'expired'|'logout'} reason */
function ended(reason) {
  showLogin(reason === 'logout' ? t('login.logged-out') : t('login.ended'));
}

async function start() {
  me = await api.request('GET', '/api/me');
  if (!route()[0]) history.replaceState(null, '', `#/${homeOf(/** @type {any} */ (me).role)}`);
  if (me && me.role !== 'admin') startAlerts();
  await show();
}

let drawing = 0;
async function show() {
  if (!me) return;
  const mine = ++drawing;
  drawNav();
  const [name, argument] = route();
  const ctx = context();
  root.setAttribute('aria-busy', 'true');
  let view;
  if (name === 'case' && argument && me.role !== 'admin') view = await caseView(ctx, argument);
  else if (name === 'record' && argument && me.role !== 'admin') view = await recordView(ctx, argument);
  else if (name === 'follow-ups' && me.role !== 'admin') view = await followUpsView(ctx);
  else if (name === 'alerts' && me.role !== 'admin') view = alertsView(ctx, alerts, pollAlerts);
  else if (name === 'audit' && me.role === 'supervisor') view = await auditView(ctx);
  else if (name === 'team' && me.role === 'supervisor') view = await teamView(ctx);
  else if (name === 'staff' && me.role === 'admin') view = await staffView(ctx);
  else if (name === 'cases' && me.role === 'worker') view = await myCasesView(ctx);
  else {
    history.replaceState(null, '', `#/${homeOf(me.role)}`);
    view = me.role === 'supervisor' ? await teamView(ctx) : me.role === 'admin' ? await staffView(ctx) : await myCasesView(ctx);
  }
  if (mine !== drawing || !me) return; // a newer navigation won
  root.removeAttribute('aria-busy');
  root.replaceChildren(view);
  const heading = /** @type {HTMLElement|null} */ (view.querySelector('h1'));
  baseTitle = `${heading?.textContent ?? ''} — ${t('title')}`;
  updateTitle();
  refreshBadges(ctx);
  heading?.focus();
}

async function pollAlerts() {
  if (!me) return;
  try {
    const body = await api.request('GET', '/api/alerts?state=all');
    alerts.alerts = body.alerts;
    alerts.error = null;
  } catch (error) {
    alerts.error = error;
    if (error instanceof ApiProblem && error.status === 401) return;
  }
  drawNav();
  const list = /** @type {HTMLElement|null} */ (root.querySelector('.alerts-list'));
  if (list) fillAlerts(context(), list, alerts, pollAlerts);
}

function startAlerts() {
  stopAlerts();
  pollAlerts();
  alertTimer = setInterval(pollAlerts, ALERT_POLL_MS);
}

function stopAlerts() {
  if (alertTimer) clearInterval(alertTimer);
  alertTimer = null;
  alerts.alerts = [];
}

function redraw() {
  document.documentElement.lang = currentLanguage();
  drawLanguageSwitch();
  if (me) show();
  else showLogin();
}

window.addEventListener('hashchange', () => { show(); });
document.addEventListener('click', () => waiting.unlock(), { once: true });

async function boot() {
  document.documentElement.lang = currentLanguage();
  drawLanguageSwitch();
  if (api.canResume()) {
    try {
      await api.refresh();
      await start();
      return;
    } catch {
      // The stored login could not be resumed; ask for the password again.
      api.forget();
    }
  }
  showLogin();
}

// For tests and the curious: the console's live state (no tokens).
/** @type {any} */ (window).telepracticeConsole = { waiting, alerts: () => alerts.alerts };
boot();
