// @ts-check
/** A session's record (times, each person's minutes, alerts, evaluation, connection tests, notes) and the did-not-attend list. */
import { field, h, table } from './dom.js';
import { when } from './format.js';
import { errorLine, submitting, viewHeading } from './common.js';

/** @typedef {import('./common.js').Context} Context */

/** @param {Context} ctx @param {string} sessionId */
export async function recordView(ctx, sessionId) {
  const { t } = ctx;
  const errors = errorLine(t);
  const section = h('section', { class: 'view', 'aria-labelledby': 'view-title' });
  let record;
  try {
    record = await ctx.api.request('GET', `/api/sessions/${encodeURIComponent(sessionId)}/record`);
  } catch (error) {
    section.append(viewHeading(t('record.title-plain')), errors.element);
    if (/** @type {{status?: number}} */ (error).status === 404) errors.say(t('record.not-yet'));
    else errors.show(error);
    return section;
  }
  const language = ctx.language();
  /** @type {Map<string, string>} */
  const names = new Map(record.participants.map((/** @type {any} */ p) => [p.id, p.display_name]));
  section.append(
    viewHeading(t('record.title', { reference: record.case_reference, date: when(record.planned_start, language) }),
      { href: `#/case/${encodeURIComponent(record.case_reference)}`, text: t('record.back', { reference: record.case_reference }) }),
    errors.element,
    h('dl', { class: 'facts' },
      h('dt', {}, t('session.kind')), h('dd', {}, t(`kind.${record.kind}`)),
      h('dt', {}, t('record.planned')), h('dd', {}, t('record.from-to', {
        start: when(record.planned_start, language), end: when(record.planned_end, language) })),
      h('dt', {}, t('record.actual')), h('dd', {}, record.actual_start ? t('record.from-to', {
        start: when(record.actual_start, language), end: when(record.actual_end, language) }) : t('record.nobody')),
      h('dt', {}, t('record.duration')), h('dd', {}, t('minutes', { minutes: record.duration_minutes }))),
    h('section', { class: 'panel', 'aria-labelledby': 'attendance-title' },
      h('h2', { id: 'attendance-title' }, t('record.attendance')),
      table(t('record.attendance'),
        [t('member.name'), t('record.who'), t('record.came'), t('record.minutes'), t('record.late'), t('record.intervals')],
        record.participants.map((/** @type {any} */ p) => [
          p.display_name, t(`who.${p.kind}`),
          h('span', { class: p.attendance === 'attended' ? 'flag flag-on-track' : 'flag flag-behind' },
            t(p.attendance === 'attended' ? 'record.attended' : 'record.did-not-attend')),
          h('span', { 'data-minutes': p.id }, String(p.joined_minutes)),
          p.late ? t('record.late-by', { minutes: p.minutes_late }) : t('no'),
          p.intervals.length ? h('ul', { class: 'intervals' }, ...p.intervals.map((/** @type {any} */ i) =>
            h('li', {}, t('record.interval', { start: when(i.started_at, language), end: when(i.ended_at, language),
              minutes: i.joined_minutes })))) : '—',
        ]))),
    alertsPart(ctx, record.safety_alerts, names),
    evaluationPart(ctx, record.evaluation_answers, names),
    withdrawalsPart(ctx, record.consent_withdrawals ?? [], names),
    connectionTestsPart(ctx, record.connection_tests ?? [], names),
    notesForm(ctx, sessionId, record.notes));
  return section;
}

/** @param {Context} ctx @param {any[]} alerts @param {Map<string, string>} names */
function alertsPart(ctx, alerts, names) {
  const { t } = ctx;
  return h('section', { class: 'panel', 'aria-labelledby': 'record-alerts-title' },
    h('h2', { id: 'record-alerts-title' }, t('record.alerts')),
    alerts.length ? table(t('record.alerts'), [t('alerts.when'), t('member.name'), t('alerts.state')],
      alerts.map((a) => [when(a.at, ctx.language()), names.get(a.participant_id) ?? '—',
        t(a.acknowledged ? 'alerts.acknowledged' : 'alerts.open')])) : h('p', {}, t('record.no-alerts')));
}

/** @param {Context} ctx @param {any[]} answers @param {Map<string, string>} names */
function evaluationPart(ctx, answers, names) {
  const { t } = ctx;
  return h('section', { class: 'panel', 'aria-labelledby': 'evaluation-title' },
    h('h2', { id: 'evaluation-title' }, t('record.evaluation')),
    answers.length ? table(t('record.evaluation'),
      [t('member.name'), t('record.usefulness'), t('record.comfort'), t('record.comment')],
      answers.map((a) => [names.get(a.participant_id) ?? '—', `${a.usefulness}/5`, `${a.comfort}/5`, a.comment ?? '—']))
      : h('p', {}, t('record.no-evaluation')));
}

/**
 * Consent withdrawn while the session went on, with the worker's note on how and when (both kept in the record).
 * @param {Context} ctx @param {any[]} withdrawals @param {Map<string, string>} names
 */
function withdrawalsPart(ctx, withdrawals, names) {
  const { t } = ctx;
  return h('section', { class: 'panel', 'aria-labelledby': 'record-withdrawals-title' },
    h('h2', { id: 'record-withdrawals-title' }, t('record.withdrawals')),
    withdrawals.length ? table(t('record.withdrawals'), [t('alerts.when'), t('member.name'), t('record.withdrawal-note')],
      withdrawals.map((w) => [when(w.withdrawn_at, ctx.language()), names.get(w.participant_id) ?? '—',
        w.note ? h('span', { class: 'note-body' }, w.note) : '—'])) : h('p', {}, t('record.no-withdrawals')));
}

/**
 * The connection tests taken before joining (web/js/connection-test.js): what each person was told and the
 * figures behind it, so the record can say why a session was short or went without video.
 * @param {Context} ctx @param {any[]} tests @param {Map<string, string>} names
 */
function connectionTestsPart(ctx, tests, names) {
  const { t } = ctx;
  /** @param {number|null} value @param {string} unit */
  const figure = (value, unit) => (value === null || value === undefined ? '—' : `${value} ${unit}`);
  return h('section', { class: 'panel', 'aria-labelledby': 'record-connection-title' },
    h('h2', { id: 'record-connection-title' }, t('record.connection-tests')),
    tests.length ? table(t('record.connection-tests'),
      [t('alerts.when'), t('member.name'), t('record.verdict'), t('record.rtt'), t('record.loss'), t('record.kbps')],
      tests.map((c) => [when(c.at, ctx.language()), names.get(c.who) ?? '—', t(`verdict.${c.verdict}`),
        figure(c.rtt_ms, 'ms'), figure(c.loss_percent, '%'), figure(c.kbps, 'kbit/s')]))
      : h('p', {}, t('record.no-connection-tests')));
}

/** @param {Context} ctx @param {string} sessionId @param {string|null} notes */
function notesForm(ctx, sessionId, notes) {
  const { t } = ctx;
  const errors = errorLine(t);
  const text = h('textarea', { name: 'notes', rows: 6, maxlength: 20000, value: notes ?? '',
    readonly: ctx.me.role !== 'worker' });
  const saved = h('p', { class: 'saved', role: 'status' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'panel record-notes', 'aria-labelledby': 'record-notes-title' },
    h('h2', { id: 'record-notes-title' }, t('record.notes')),
    field(t('record.notes-label'), text),
    ctx.me.role === 'worker' ? h('button', { type: 'submit', class: 'primary' }, t('record.notes-save')) : null,
    saved, errors.element));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    saved.textContent = '';
    submitting(form, errors, async () => {
      await ctx.api.request('PUT', `/api/sessions/${encodeURIComponent(sessionId)}/record/notes`,
        { notes: /** @type {HTMLTextAreaElement} */ (text).value });
      saved.textContent = t('record.notes-saved');
    });
  });
  return form;
}

/** @param {Context} ctx */
export async function followUpsView(ctx) {
  const { t } = ctx;
  const errors = errorLine(t);
  const section = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    viewHeading(t('follow-ups.title')), errors.element);
  try {
    const { sessions } = await ctx.api.request('GET', '/api/reports/did-not-attend?weeks=4');
    section.append(h('p', { class: 'summary' }, t('follow-ups.explain')),
      sessions.length ? table(t('follow-ups.title'),
        [t('cases.reference'), t('session.when'), t('session.kind'), t('follow-ups.absent'), ''],
        sessions.map((/** @type {any} */ s) => [
          h('a', { href: `#/case/${encodeURIComponent(s.case_reference)}` }, s.case_reference),
          when(s.planned_start, ctx.language()), t(`kind.${s.kind}`),
          s.absent.map((/** @type {any} */ a) => a.display_name).join(', '),
          h('a', { href: `#/record/${s.session_id}` }, t('session.open-record')),
        ])) : h('p', {}, t('follow-ups.none')));
  } catch (error) {
    errors.show(error);
  }
  return section;
}
