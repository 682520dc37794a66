// @ts-check
/** The family members of a case, with their consent as this view knows it and a way to record a withdrawal. */
import { field, h, table } from './dom.js';
import { when } from './format.js';
import { errorLine, submitting } from './common.js';
import { NOTE_MAX, consentState, withdrawalBody, withdrawalOutcome, withdrawalProblem } from './withdrawal.js';

/**
 * @typedef {import('./common.js').Context} Context
 * @typedef {import('./case.js').Member} Member
 */

/**
 * @param {Context} ctx @param {string} reference @param {Member[]} people
 * @param {() => Promise<void>} reload redraws the sessions (their links stop with a withdrawal)
 * @param {{history: any[], refusals: any[]}} [consents] the case record's consent history and refusals
 */
export function membersPart(ctx, reference, people, reload, consents = { history: [], refusals: [] }) {
  const { t } = ctx;
  const panel = h('section', { class: 'panel', 'aria-labelledby': 'members-title' },
    h('h2', { id: 'members-title' }, t('case.members')));
  if (!people.length) {
    panel.append(h('p', {}, t('case.no-members')));
    return panel;
  }
  const formSlot = h('div', { class: 'withdrawal-slot' });
  const rows = people.map((m) => {
    const known = consentState(m.id, consents.history, consents.refusals);
    const state = h('span', { class: 'consent-state', 'data-consent': known.state },
      known.at === null ? t('consent.none') : t(`consent.${known.state}`, { date: when(known.at, ctx.language()),
        version: known.version ?? '' }));
    const opener = h('button', { type: 'button', class: 'danger', 'data-withdraw': m.id, 'aria-expanded': 'false',
      // Described by the person's name in the same row, so each row's button says whose consent it records.
      'aria-describedby': `member-name-${m.id}` }, t('withdraw.open'));
    opener.addEventListener('click', () => {
      for (const other of panel.querySelectorAll('[data-withdraw]')) other.setAttribute('aria-expanded', 'false');
      opener.setAttribute('aria-expanded', 'true');
      formSlot.replaceChildren(withdrawalForm(ctx, reference, m, {
        close: () => {
          formSlot.replaceChildren();
          opener.setAttribute('aria-expanded', 'false');
          opener.focus();
        },
        done: async (answer) => {
          state.dataset.consent = answer.withdrawn > 0 ? 'withdrawn' : 'none';
          state.textContent = answer.withdrawn > 0
            ? t('consent.withdrawn', { date: when(new Date().toISOString(), ctx.language()) }) : t('consent.none');
          formSlot.replaceChildren();
          opener.setAttribute('aria-expanded', 'false');
          ctx.announce(t(withdrawalOutcome(answer), { name: m.display_name }));
          opener.focus();
          await reload();
        },
      }));
      /** @type {HTMLElement|null} */ (formSlot.querySelector('textarea'))?.focus();
    });
    return [h('span', { id: `member-name-${m.id}` }, m.display_name), t(`role.${m.role}`), m.is_minor ? t('yes') : t('no'),
      t(`language.${m.preferred_language}`), m.contact ?? '—', state, opener];
  });
  panel.append(table(t('case.members'),
    [t('member.name'), t('member.role'), t('member.minor'), t('member.language'), t('member.contact'),
      t('member.consent'), ''], rows),
  formSlot);
  return panel;
}

/**
 * The form of one withdrawal: a note on how and when, what will happen, Confirm and Cancel.
 * A refusal is told next to it and leaves the typed note where it was.
 * @param {Context} ctx @param {string} reference @param {Member} member
 * @param {{close: () => void, done: (answer: {withdrawn: number, note: boolean}) => Promise<void>}} then
 */
function withdrawalForm(ctx, reference, member, then) {
  const { t } = ctx;
  const errors = errorLine(t);
  const note = /** @type {HTMLTextAreaElement} */ (h('textarea', { name: 'note', rows: 4, maxlength: NOTE_MAX }));
  const titleId = `withdraw-title-${member.id}`;
  const form = /** @type {HTMLFormElement} */ (h('form', { class: 'withdrawal-form', 'aria-labelledby': titleId,
    'data-participant': member.id },
    h('h3', { id: titleId }, t('withdraw.title', { name: member.display_name })),
    h('p', { class: 'warning' }, t('withdraw.effect', { name: member.display_name })),
    field(t('withdraw.note', { name: member.display_name }), note, t('withdraw.note-hint', { max: NOTE_MAX })),
    errors.element,
    h('div', { class: 'actions' },
      h('button', { type: 'submit', class: 'primary', 'data-action': 'confirm-withdrawal' }, t('withdraw.confirm')),
      h('button', { type: 'button', 'data-action': 'cancel-withdrawal', onclick: () => then.close() },
        t('withdraw.cancel')))));
  form.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') then.close();
  });
  form.addEventListener('submit', (event) => {
    event.preventDefault();
    const made = withdrawalBody(note.value);
    if ('problem' in made) return errors.say(t(made.problem, { max: NOTE_MAX }));
    submitting(form, errors, async () => {
      let answer;
      try {
        answer = await ctx.api.request('POST', `/api/cases/${encodeURIComponent(reference)}/participants/`
          + `${encodeURIComponent(member.id)}/consent/withdraw`, made.body);
      } catch (error) {
        const key = withdrawalProblem(error);
        if (!key) throw error;
        errors.say(t(key, { name: member.display_name }));
        return;
      }
      await then.done(answer);
    });
  });
  return form;
}
