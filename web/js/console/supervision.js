// @ts-check
/** The supervisor's view (team cases, contacts behind, case discussions), safety alerts, the audit trail, admins. */
import { field, h, table } from './dom.js';
import { isoToLocalInput, localToIso, when } from './format.js';
import { errorLine, openCall, submitting, viewHeading, waitingBadge } from './common.js';
import { casesTable, loadOverview } from './cases.js';

/** @typedef {import('./common.js').Context} Context */

export const ALERT_POLL_MS = 15_000;

/** @param {Context} ctx */
export async function teamView(ctx) {
  const { t } = ctx;
  const errors = errorLine(t);
  const section = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    viewHeading(t('team.title')), errors.element);
  try {
    const [rows, contacts] = await Promise.all([
      loadOverview(ctx), ctx.api.request('GET', '/api/reports/contacts?weeks=4')]);
    section.append(
      rows.length ? casesTable(ctx, rows, t('team.caption')) : h('p', {}, t('cases.empty')),
      behindPart(ctx, contacts.weeks),
      discussionForm(ctx, rows.map((row) => row.reference)));
  } catch (error) {
    errors.show(error);
  }
  return section;
}

/**
 * Weeks in which a case had fewer contacts than its risk level asks (complete weeks, and this week so far).
 * @param {Context} ctx
 * @param {Array<{case_reference: string, risk_level: string, week_start: string, held: number, required: number,
 *   behind: boolean, week_complete: boolean}>} weeks
 */
function behindPart(ctx, weeks) {
  const { t } = ctx;
  const behind = weeks.filter((week) => week.behind).reverse();
  return h('section', { class: 'panel', 'aria-labelledby': 'behind-title' },
    h('h2', { id: 'behind-title' }, t('team.behind')),
    behind.length ? table(t('team.behind'),
      [t('cases.reference'), t('cases.risk'), t('team.week-of'), t('team.held'), t('team.state')],
      behind.map((week) => [
        h('a', { href: `#/case/${encodeURIComponent(week.case_reference)}` }, week.case_reference),
        t(`risk.${week.risk_level}`),
        new Intl.DateTimeFormat(ctx.language() === 'pt' ? 'pt-PT' : 'en-GB', { dateStyle: 'medium', timeZone: 'UTC' })
          .format(new Date(`${week.week_start}T00:00:00Z`)),
        t('team.held-of', { held: week.held, required: week.required }),
        h('span', { class: `flag ${week.week_complete ? 'flag-behind' : 'flag-behind-so-far'}`, 'data-behind': week.case_reference },
          t(week.week_complete ? 'flag.behind' : 'team.so-far')),
      ])) : h('p', {}, t('team.none-behind')));
}

/**
 * A staff-only call about one or more cases: the first case holds it, the others are linked.
 * @param {Context} ctx @param {string[]} references
 */
function discussionForm(ctx, references) {
  const { t } = ctx;
  const errors = errorLine(t);
  const main = h('select', { name: 'case', required: true }, ...references.map((r) => h('option', { value: r }, r)));
  const others = h('fieldset', { class: 'linked' }, h('legend', {}, t('schedule.linked')),
    ...references.map((r) => {
      const box = h('input', { type: 'checkbox', value: r, id: `discuss-${r}` });
      return h('div', { class: 'check' }, box, h('label', { for: box.id }, r));
    }));
  const start = h('input', { type: 'datetime-local', required: true, value: isoToLocalInput() });
  const minutes = h('input', { type: 'number', min: 15, max: 180, step: 5, value: '60', required: true, inputmode: 'numeric' });
  const result = h('div', { class: 'discussion-made' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'panel schedule-form', 'aria-labelledby': 'discussion-title' },
    h('h2', { id: 'discussion-title' }, t('schedule.discussion-title')),
    h('p', { class: 'hint' }, t('team.discussion-explain')),
    field(t('team.discussion-case'), main), others, field(t('schedule.start'), start),
    field(t('schedule.minutes'), minutes, t('schedule.minutes-hint', { low: 15, high: 180 })),
    h('button', { type: 'submit', class: 'primary' }, t('schedule.submit')), errors.element, result));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const reference = /** @type {HTMLSelectElement} */ (main).value;
    const iso = localToIso(/** @type {HTMLInputElement} */ (start).value);
    const length = Number(/** @type {HTMLInputElement} */ (minutes).value);
    if (!reference) return errors.say(t('team.discussion-no-case'));
    if (!iso) return errors.say(t('error.field.planned_start'));
    if (!Number.isInteger(length) || length < 15 || length > 180) return errors.say(t('schedule.minutes-hint', { low: 15, high: 180 }));
    const linked = [...others.querySelectorAll('input:checked')]
      .map((box) => /** @type {HTMLInputElement} */ (box).value).filter((r) => r !== reference);
    submitting(form, errors, async () => {
      const created = await ctx.api.request('POST', `/api/cases/${encodeURIComponent(reference)}/sessions`,
        { kind: 'case_discussion', planned_start: iso, planned_minutes: length, linked_cases: linked });
      const about = [created.case, ...created.linked_cases].join(', ');
      result.replaceChildren(h('article', { class: 'session-card', 'data-session': created.id },
        h('p', { role: 'status' }, t('team.discussion-made', { start: when(created.planned_start, ctx.language()), cases: about }),
          ' ', waitingBadge(ctx, created.id)),
        h('button', { type: 'button', class: 'primary', 'data-action': 'call', onclick: () => openCall(ctx, created.id) },
          t('session.call'))));
    });
  });
  return form;
}

/**
 * Safety alerts of my cases, newest first, open ones highlighted; kept fresh by the console's poll.
 * @param {Context} ctx
 * @param {{alerts: any[], error: unknown}} latest
 * @param {() => Promise<void>} pollNow
 */
export function alertsView(ctx, latest, pollNow) {
  const { t } = ctx;
  const list = h('div', { class: 'alerts-list', 'aria-live': 'polite' });
  const section = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    viewHeading(t('alerts.title')), h('p', { class: 'hint' }, t('alerts.explain')), list);
  fillAlerts(ctx, list, latest, pollNow);
  return section;
}

/**
 * @param {Context} ctx @param {HTMLElement} list @param {{alerts: any[], error: unknown}} latest
 * @param {() => Promise<void>} pollNow
 */
export function fillAlerts(ctx, list, latest, pollNow) {
  const { t } = ctx;
  const errors = errorLine(t);
  if (latest.error) errors.show(latest.error);
  const alerts = [...latest.alerts].sort((a, b) => String(b.at).localeCompare(String(a.at)));
  list.replaceChildren(errors.element, alerts.length ? h('ul', { class: 'alerts' }, ...alerts.map((alert) =>
    h('li', { class: alert.acknowledged ? 'alert' : 'alert open', 'data-alert': alert.id },
      h('p', {}, h('strong', {}, alert.acknowledged ? t('alerts.acknowledged') : t('alerts.open')), ' · ',
        when(alert.at, ctx.language())),
      h('p', {}, t('alerts.who', { name: alert.participant_name ?? '—', reference: alert.case_reference }),
        alert.is_minor ? ` (${t('alerts.minor')})` : ''),
      alert.acknowledged ? null : h('button', { type: 'button', class: 'primary', 'data-acknowledge': alert.id,
        onclick: async (/** @type {MouseEvent} */ event) => {
          const button = /** @type {HTMLButtonElement} */ (event.currentTarget);
          button.disabled = true;
          try {
            await ctx.api.request('POST', `/api/alerts/${encodeURIComponent(alert.id)}/acknowledge`);
            ctx.announce(t('alerts.done'));
          } catch (error) {
            if (/** @type {{status?: number}} */ (error).status !== 409) {
              errors.show(error);
              button.disabled = false;
              return;
            }
          }
          await pollNow();
        } }, t('alerts.acknowledge')),
      h('a', { href: `#/case/${encodeURIComponent(alert.case_reference)}` }, t('alerts.open-case')))))
    : h('p', {}, t('alerts.none')));
}

/** @param {Context} ctx */
export async function auditView(ctx) {
  const { t } = ctx;
  const errors = errorLine(t);
  const results = h('div', { class: 'audit-results' });
  /** @type {string[]} */
  let references = [];
  try {
    references = (await loadOverview(ctx)).map((row) => row.reference);
  } catch (error) {
    errors.show(error);
  }
  const which = h('select', { name: 'case' }, h('option', { value: '' }, t('audit.all-cases')),
    ...references.map((r) => h('option', { value: r }, r)));
  const since = h('input', { type: 'date', name: 'since' });
  const until = h('input', { type: 'date', name: 'until' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'panel audit-filter' },
    field(t('audit.case'), which), field(t('audit.since'), since), field(t('audit.until'), until),
    h('button', { type: 'submit', class: 'primary' }, t('audit.show')), errors.element));
  const load = () => submitting(form, errors, async () => {
    const params = new URLSearchParams();
    const reference = /** @type {HTMLSelectElement} */ (which).value;
    if (reference) params.set('case', reference);
    const from = /** @type {HTMLInputElement} */ (since).value;
    const to = /** @type {HTMLInputElement} */ (until).value;
    // Whole local days: from the start of the first to the start of the day after the last.
    if (from) params.set('since', new Date(`${from}T00:00`).toISOString());
    if (to) {
      const end = new Date(`${to}T00:00`);
      end.setDate(end.getDate() + 1);
      params.set('until', end.toISOString());
    }
    const body = await ctx.api.request('GET', `/api/audit?${params}`);
    results.replaceChildren(body.entries.length ? table(t('audit.caption'),
      [t('audit.when'), t('audit.who'), t('audit.what'), t('cases.reference')],
      body.entries.map((/** @type {any} */ e) => [when(e.at, ctx.language()), e.staff_name ?? e.actor,
        e.session_id ? h('a', { href: `#/record/${e.session_id}` }, t(`audit.${e.record}`)) : t(`audit.${e.record}`),
        e.case_reference])) : h('p', {}, t('audit.none')),
    ...(body.truncated ? [h('p', { class: 'hint' }, t('audit.truncated'))] : []));
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    load();
  });
  const section = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    viewHeading(t('audit.title')), h('p', { class: 'hint' }, t('audit.explain')), form, results);
  await load();
  return section;
}

/** Administrators: who has an account; managing staff stays with the administrator's tools. @param {Context} ctx */
export async function staffView(ctx) {
  const { t } = ctx;
  const errors = errorLine(t);
  const section = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    viewHeading(t('admin.title')), h('p', {}, t('admin.explain')), errors.element);
  try {
    const { staff } = await ctx.api.request('GET', '/api/staff');
    section.append(table(t('admin.caption'), [t('admin.name'), t('admin.username'), t('admin.role'), t('admin.state')],
      staff.map((/** @type {any} */ s) => [s.display_name, s.username, t(`staff-role.${s.role}`),
        s.disabled_at ? t('admin.disabled') : t('admin.active')])));
  } catch (error) {
    errors.show(error);
  }
  return section;
}
