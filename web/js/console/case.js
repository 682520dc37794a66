// @ts-check
/** A case: its record (family members, notes), its sessions past and upcoming, scheduling, links and calls. */
import { field, h, table } from './dom.js';
import { membersPart } from './members.js';
import { LENGTHS, isoToLocalInput, lengthFits, localToIso, when } from './format.js';
import { errorLine, openCall, submitting, viewHeading, waitingBadge } from './common.js';
import { loadOverview } from './cases.js';

/**
 * @typedef {import('./common.js').Context} Context
 * @typedef {{id: string, display_name: string, contact: string|null, role: string, is_minor: boolean,
 *   preferred_language: string}} Member
 * @typedef {{id: string, participant: string, expires_at: string, revoked: boolean, join_code: boolean,
 *   locked: boolean}} Invite
 * @typedef {{id: string, case: string, kind: 'family'|'individual'|'case_discussion', status: string,
 *   planned_start: string, planned_end: string, planned_minutes: number, host_id: string,
 *   participant: string|null, linked_cases: string[], invites: Invite[]}} Session
 */

const OPEN = new Set(['scheduled', 'live']);

/** @param {Context} ctx @param {string} reference */
export async function caseView(ctx, reference) {
  const { t } = ctx;
  const errors = errorLine(t);
  const back = ctx.me.role === 'supervisor' ? { href: '#/team', text: t('nav.team') }
    : { href: '#/cases', text: t('nav.cases') };
  const section = h('section', { class: 'view', 'aria-labelledby': 'view-title' },
    viewHeading(t('case.title', { reference }), back), errors.element);
  let record;
  try {
    record = await ctx.api.request('GET', `/api/cases/${encodeURIComponent(reference)}`);
  } catch (error) {
    errors.show(error);
    return section;
  }
  /** @type {Map<string, Member>} */
  const members = new Map(record.participants.map((/** @type {Member} */ m) => [m.id, m]));
  const sessions = h('div', { class: 'sessions' });
  const reload = async () => {
    sessions.replaceChildren(await sessionsPart(ctx, reference, members, reload));
  };
  section.append(
    h('p', { class: 'summary' }, t('case.risk', { risk: t(`risk.${record.risk_level}`) }), ' · ',
      t('case.opened', { date: when(record.created_at, ctx.language()) })),
    membersPart(ctx, reference, record.participants, reload,
      { history: record.consent_history ?? [], refusals: record.consent_refusals ?? [] }),
    sessions,
    await scheduleForm(ctx, reference, record.participants, reload),
    notesPart(ctx, reference, record.notes));
  await reload();
  return section;
}

/**
 * @param {Context} ctx @param {string} reference @param {Map<string, Member>} members
 * @param {() => Promise<void>} reload
 */
async function sessionsPart(ctx, reference, members, reload) {
  const { t } = ctx;
  const errors = errorLine(t);
  const part = h('section', { class: 'panel', 'aria-labelledby': 'sessions-title' },
    h('h2', { id: 'sessions-title' }, t('case.sessions')), errors.element);
  /** @type {Session[]} */
  let all = [];
  try {
    all = (await ctx.api.request('GET', `/api/cases/${encodeURIComponent(reference)}/sessions`)).sessions;
  } catch (error) {
    errors.show(error);
    return part;
  }
  const upcoming = all.filter((s) => OPEN.has(s.status)).reverse();
  const past = all.filter((s) => !OPEN.has(s.status));
  part.append(h('h3', {}, t('case.upcoming')));
  if (!upcoming.length) part.append(h('p', {}, t('case.none-upcoming')));
  for (const session of upcoming) part.append(upcomingCard(ctx, session, members, reload));
  part.append(h('h3', {}, t('case.past')));
  part.append(past.length ? table(t('case.past'), [t('session.when'), t('session.kind'), t('session.status'), ''],
    past.map((s) => [when(s.planned_start, ctx.language()), kindText(ctx, s), t(`status.${s.status}`),
      s.status === 'ended' ? h('a', { href: `#/record/${s.id}`, 'data-record': s.id }, t('session.open-record')) : '']))
    : h('p', {}, t('case.none-past')));
  return part;
}

/** @param {Context} ctx @param {Session} session */
function kindText(ctx, session) {
  const kind = ctx.t(`kind.${session.kind}`);
  return session.linked_cases.length ? `${kind} (${session.linked_cases.join(', ')})` : kind;
}

/**
 * @param {Context} ctx @param {Session} session @param {Map<string, Member>} members
 * @param {() => Promise<void>} reload
 */
function upcomingCard(ctx, session, members, reload) {
  const { t } = ctx;
  const isWorker = ctx.me.role === 'worker';
  const errors = errorLine(t);
  const extra = h('div', { class: 'session-extra' });
  const card = h('article', { class: 'session-card', 'data-session': session.id },
    h('h4', {}, kindText(ctx, session), ' ', waitingBadge(ctx, session.id)),
    h('p', {}, t('session.planned', { start: when(session.planned_start, ctx.language()),
      minutes: session.planned_minutes }), ' · ', t(`status.${session.status}`)),
    h('div', { class: 'actions' },
      h('button', { type: 'button', class: 'primary', 'data-action': 'call', onclick: () => openCall(ctx, session.id) },
        t('session.call')),
      isWorker && session.kind !== 'case_discussion' ? h('button', {
        type: 'button', 'data-action': 'links', 'aria-expanded': 'false',
        onclick: (/** @type {MouseEvent} */ event) => {
          const button = /** @type {HTMLElement} */ (event.currentTarget);
          button.setAttribute('aria-expanded', 'true');
          extra.replaceChildren(linksPanel(ctx, session, members, () => relist()));
        },
      }, t('session.links')) : null,
      isWorker ? h('button', { type: 'button', 'data-action': 'reschedule',
        onclick: () => extra.replaceChildren(rescheduleForm(ctx, session, reload)) }, t('session.reschedule')) : null,
      isWorker ? h('button', { type: 'button', class: 'danger', 'data-action': 'cancel',
        onclick: async () => {
          if (!window.confirm(t('session.cancel-confirm'))) return;
          errors.clear();
          try {
            await ctx.api.request('POST', `/api/sessions/${session.id}/cancel`, {});
            ctx.announce(t('session.cancelled'));
            await reload();
          } catch (error) {
            errors.show(error);
          }
        } }, t('session.cancel')) : null),
    errors.element, h('div', { class: 'invites-slot' }, invitesList(ctx, session, members, reload)), extra);
  /** Redraw only the list of links (after new ones are made), leaving the new links on screen. */
  const relist = async () => {
    const { sessions } = await ctx.api.request('GET', `/api/cases/${encodeURIComponent(session.case)}/sessions`);
    const fresh = sessions.find((/** @type {Session} */ s) => s.id === session.id);
    if (fresh) card.querySelector('.invites-slot')?.replaceChildren(invitesList(ctx, fresh, members, reload) ?? '');
  };
  return card;
}

/**
 * The links already made for a session, each revocable.
 * @param {Context} ctx @param {Session} session @param {Map<string, Member>} members
 * @param {() => Promise<void>} reload
 */
function invitesList(ctx, session, members, reload) {
  const { t } = ctx;
  if (!session.invites.length || ctx.me.role !== 'worker') return null;
  const errors = errorLine(t);
  return h('div', { class: 'invites' }, errors.element, table(t('links.existing'),
    [t('member.name'), t('links.expires'), t('links.state'), ''],
    session.invites.map((invite) => [
      members.get(invite.participant)?.display_name ?? '—',
      when(invite.expires_at, ctx.language()),
      t(invite.revoked ? 'links.revoked' : invite.locked ? 'links.locked' : 'links.active'),
      invite.revoked ? '' : h('button', { type: 'button', class: 'danger', 'data-revoke': invite.id,
        onclick: async () => {
          try {
            await ctx.api.request('POST', `/api/sessions/${session.id}/invites/${invite.id}/revoke`, {});
            ctx.announce(t('links.revoked-now'));
            await reload();
          } catch (error) {
            errors.show(error);
          }
        } }, t('links.revoke')),
    ])));
}

/**
 * Make each family member's personal link (and, if asked, a join code) and show them with Copy buttons.
 * @param {Context} ctx @param {Session} session @param {Map<string, Member>} members
 * @param {() => Promise<void>} relist redraws the card's list of links
 */
function linksPanel(ctx, session, members, relist) {
  const { t } = ctx;
  const errors = errorLine(t);
  const code = h('input', { type: 'checkbox', id: `code-${session.id}`, name: 'join_code' });
  const made = h('div', { class: 'made-links' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'links-form' },
    h('p', {}, t('links.explain')),
    h('div', { class: 'check' }, code, h('label', { for: code.id }, t('links.with-code'))),
    h('button', { type: 'submit', class: 'primary' }, t('links.make')),
    errors.element, made));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    submitting(form, errors, async () => {
      const body = await ctx.api.request('POST', `/api/sessions/${session.id}/invites`,
        { join_code: /** @type {HTMLInputElement} */ (code).checked });
      made.replaceChildren(...body.invites.map((/** @type {any} */ invite) => madeLink(ctx, invite, members)));
      // Not a full reload: it would redraw the card and take the new links (shown only this once) off the screen.
      ctx.announce(t('links.made', { count: body.invites.length }));
      await relist();
    });
  });
  return form;
}

/**
 * @param {Context} ctx
 * @param {{id: string, participant: string, link: string, code: string|null, expires_at: string}} invite
 * @param {Map<string, Member>} members
 */
function madeLink(ctx, invite, members) {
  const { t } = ctx;
  const name = members.get(invite.participant)?.display_name ?? '—';
  const link = h('input', { type: 'text', readonly: true, value: invite.link, class: 'link-text',
    'aria-label': t('links.link-of', { name }) });
  const copied = h('span', { class: 'copied', role: 'status' });
  /** @param {string} text */
  const copy = async (text) => {
    try {
      await navigator.clipboard.writeText(text);
      copied.textContent = t('links.copied');
    } catch {
      // Without clipboard access the text is selected, ready for the keyboard's copy.
      /** @type {HTMLInputElement} */ (link).select();
      copied.textContent = t('links.copy-by-hand');
    }
  };
  return h('div', { class: 'made-link', 'data-participant': invite.participant },
    h('h5', {}, name),
    h('p', { class: 'warning' }, t('links.personal', { name })),
    h('div', { class: 'copy-row' }, link,
      h('button', { type: 'button', 'data-copy': 'link', onclick: () => copy(invite.link) }, t('links.copy-link'))),
    invite.code ? h('div', { class: 'copy-row' },
      h('span', {}, t('links.code'), ' ', h('strong', { class: 'join-code' }, invite.code)),
      h('button', { type: 'button', 'data-copy': 'code', onclick: () => copy(invite.code ?? '') },
        t('links.copy-code'))) : null,
    invite.code ? h('p', { class: 'hint' }, t('links.code-by-phone')) : null,
    copied);
}

/** @param {Context} ctx @param {Session} session @param {() => Promise<void>} reload */
function rescheduleForm(ctx, session, reload) {
  const { t } = ctx;
  const errors = errorLine(t);
  const start = h('input', { type: 'datetime-local', required: true,
    value: isoToLocalInput(new Date(session.planned_start)) });
  const [low, high] = LENGTHS[session.kind];
  const minutes = h('input', { type: 'number', min: low, max: high, step: 5, required: true,
    value: String(session.planned_minutes), inputmode: 'numeric' });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'reschedule-form' },
    h('h5', {}, t('session.reschedule')),
    field(t('schedule.start'), start), field(t('schedule.minutes'), minutes, t('schedule.minutes-hint', { low, high })),
    h('button', { type: 'submit', class: 'primary' }, t('session.reschedule-save')), errors.element));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const iso = localToIso(/** @type {HTMLInputElement} */ (start).value);
    const length = Number(/** @type {HTMLInputElement} */ (minutes).value);
    if (!iso) return errors.say(t('error.field.planned_start'));
    if (!lengthFits(session.kind, length)) return errors.say(t('schedule.minutes-hint', { low, high }));
    submitting(form, errors, async () => {
      const moved = await ctx.api.request('POST', `/api/sessions/${session.id}/reschedule`,
        { planned_start: iso, planned_minutes: length });
      ctx.announce(moved.links_to_reissue.length ? t('session.moved-reissue') : t('session.moved'));
      await reload();
    });
  });
  return form;
}

/**
 * Schedule a session: workers any kind of their case, supervisors case discussions only.
 * @param {Context} ctx @param {string} reference @param {Member[]} people @param {() => Promise<void>} reload
 */
export async function scheduleForm(ctx, reference, people, reload) {
  const { t } = ctx;
  const errors = errorLine(t);
  const kinds = ctx.me.role === 'supervisor' ? ['case_discussion'] : ['family', 'individual', 'case_discussion'];
  const kind = h('select', { name: 'kind' }, ...kinds.map((k) => h('option', { value: k }, t(`kind.${k}`))));
  const person = h('select', { name: 'participant' },
    ...people.map((m) => h('option', { value: m.id }, m.display_name)));
  const personField = field(t('schedule.person'), person);
  const start = h('input', { type: 'datetime-local', name: 'planned_start', required: true, value: isoToLocalInput() });
  const minutes = h('input', { type: 'number', name: 'planned_minutes', min: 45, max: 90, step: 5, value: '60',
    required: true, inputmode: 'numeric' });
  const minutesHint = h('p', { class: 'hint' });
  /** @type {string[]} */
  let others = [];
  try {
    others = (await loadOverview(ctx)).map((row) => row.reference).filter((r) => r !== reference);
  } catch {
    others = []; // linking further cases is optional; the form still works without the list
  }
  const linked = h('fieldset', { class: 'linked' }, h('legend', {}, t('schedule.linked')),
    ...others.map((other) => {
      const box = h('input', { type: 'checkbox', value: other, id: `link-${other}`, name: 'linked_cases' });
      return h('div', { class: 'check' }, box, h('label', { for: box.id }, other));
    }));
  const sync = () => {
    const chosen = /** @type {'family'|'individual'|'case_discussion'} */ (/** @type {HTMLSelectElement} */ (kind).value);
    const [low, high] = LENGTHS[chosen];
    const input = /** @type {HTMLInputElement} */ (minutes);
    input.min = String(low);
    input.max = String(high);
    minutesHint.textContent = t('schedule.minutes-hint', { low, high });
    personField.hidden = chosen !== 'individual';
    linked.hidden = chosen !== 'case_discussion' || !others.length;
  };
  kind.addEventListener('change', sync);
  const minutesField = field(t('schedule.minutes'), minutes);
  minutesField.append(minutesHint);
  const title = ctx.me.role === 'supervisor' ? t('schedule.discussion-title') : t('schedule.title');
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'panel schedule-form', 'aria-labelledby': `schedule-${reference}` },
    h('h2', { id: `schedule-${reference}` }, title),
    field(t('schedule.kind'), kind), personField, field(t('schedule.start'), start), minutesField, linked,
    h('button', { type: 'submit', class: 'primary' }, t('schedule.submit')), errors.element));
  sync();
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const chosen = /** @type {'family'|'individual'|'case_discussion'} */ (/** @type {HTMLSelectElement} */ (kind).value);
    const iso = localToIso(/** @type {HTMLInputElement} */ (start).value);
    const length = Number(/** @type {HTMLInputElement} */ (minutes).value);
    if (!iso) return errors.say(t('error.field.planned_start'));
    if (!lengthFits(chosen, length)) return errors.say(minutesHint.textContent ?? '');
    /** @type {Record<string, unknown>} */
    const body = { kind: chosen, planned_start: iso, planned_minutes: length };
    if (chosen === 'individual') body.participant = /** @type {HTMLSelectElement} */ (person).value;
    if (chosen === 'case_discussion') {
      body.linked_cases = [...linked.querySelectorAll('input:checked')].map((box) => /** @type {HTMLInputElement} */ (box).value);
    }
    submitting(form, errors, async () => {
      const created = await ctx.api.request('POST', `/api/cases/${encodeURIComponent(reference)}/sessions`, body);
      ctx.announce(t('schedule.done', { start: when(created.planned_start, ctx.language()) }));
      await reload();
    });
  });
  return form;
}

/**
 * The case's notes and a form to add one (nothing typed is lost if saving fails).
 * @param {Context} ctx @param {string} reference
 * @param {Array<{id: string, created_at: string, body: string}>} notes
 */
function notesPart(ctx, reference, notes) {
  const { t } = ctx;
  const errors = errorLine(t);
  const list = h('ol', { class: 'notes' }, ...notes.map((note) => noteItem(ctx, note)));
  const text = h('textarea', { name: 'body', rows: 4, required: true, maxlength: 20000 });
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'note-form' },
    field(t('notes.new'), text), h('button', { type: 'submit', class: 'primary' }, t('notes.add')), errors.element));
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const body = /** @type {HTMLTextAreaElement} */ (text).value.trim();
    if (!body) return errors.say(t('notes.empty'));
    submitting(form, errors, async () => {
      const saved = await ctx.api.request('POST', `/api/cases/${encodeURIComponent(reference)}/notes`, { body });
      list.append(noteItem(ctx, { created_at: saved.created_at, body }));
      /** @type {HTMLTextAreaElement} */ (text).value = '';
      ctx.announce(t('notes.added'));
    });
  });
  return h('section', { class: 'panel', 'aria-labelledby': 'notes-title' },
    h('h2', { id: 'notes-title' }, t('notes.title')),
    notes.length ? null : h('p', { class: 'no-notes' }, t('notes.none')), list, form);
}

/** @param {Context} ctx @param {{created_at: string, body: string}} note */
function noteItem(ctx, note) {
  return h('li', {}, h('p', { class: 'note-when' }, when(note.created_at, ctx.language())),
    h('p', { class: 'note-body' }, note.body));
}
