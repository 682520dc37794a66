// @ts-check
/**
 * The order of the family's steps before the call, free of the DOM so Node can test it:
 * language, then the join code (when the link needs one), then the person's own consent
 * (or a child's assent), then a guardian's consent for each child in their care, then the
 * camera and microphone preview. What the server already holds is skipped.
 */

/**
 * @typedef {object} ConsentStep  one consent as POST /api/join/check lists it
 * @property {string} participant
 * @property {string} first_name
 * @property {'consent'|'assent'} kind
 * @property {'adult'|'guardian'|'child'} audience
 * @property {boolean} on_record
 */

/**
 * @typedef {object} JoinSummary  the answer of POST /api/join/check
 * @property {{planned_start: string, planned_end: string}} session
 * @property {{id?: string, first_name?: string, language: string, is_minor?: boolean}} participant
 * @property {{on_record: boolean, steps: ConsentStep[]}} [consent]
 * @property {boolean} join_code_required
 * @property {boolean} join_code_verified
 */

/**
 * @typedef {{name: 'language'} | {name: 'code'} | {name: 'consent', step: ConsentStep} | {name: 'preview'}} Step
 */

/**
 * The step to show next.
 * @param {JoinSummary} summary
 * @param {{languageChosen: boolean, answered: ReadonlySet<string>}} visit
 *   answered: the participants whose guardian consent was answered (agreed or refused) in this visit
 * @returns {Step}
 */
export function nextStep(summary, { languageChosen, answered }) {
  if (!languageChosen) return { name: 'language' };
  if (summary.join_code_required && !summary.join_code_verified) return { name: 'code' };
  const steps = summary.consent?.steps ?? [];
  const own = steps.find((step) => step.participant === summary.participant.id);
  if (own && !own.on_record) return { name: 'consent', step: own };
  // A parent is asked about each child in their care once per visit; saying no for a child
  // does not keep the parent out, and the child's own link asks again.
  const child = steps.find((step) => step !== own && !step.on_record && !answered.has(step.participant));
  if (child) return { name: 'consent', step: child };
  return { name: 'preview' };
}

/**
 * Whether a child who gave their assent still waits for a guardian's consent before they can be let in.
 * @param {JoinSummary} summary
 */
export function waitsForGuardian(summary) {
  return Boolean(summary.participant.is_minor && summary.consent && !summary.consent.on_record);
}

/**
 * What a refused answer means for the path: the person's own refusal ends it; a guardian's
 * refusal for a child lets the parent go on.
 * @param {JoinSummary} summary
 * @param {ConsentStep} step
 * @returns {'stop'|'continue'}
 */
export function afterRefusal(summary, step) {
  return step.participant === summary.participant.id ? 'stop' : 'continue';
}

/**
 * The page a failed request leads to, from its HTTP status and problem code.
 * @param {number} status
 * @param {string|undefined} code
 * @returns {'link-ended'|'link-locked'|'link-invalid'|null}  null: not about the link
 */
export function linkProblem(status, code) {
  if (status === 423 || code === 'link-locked') return 'link-locked';
  if (code === 'session-closed') return 'link-ended';
  if (status === 410 || status === 401) return 'link-invalid';
  return null;
}

/**
 * The session's time in words: the day ("today" or a date), start and end, in the person's language.
 * @param {{planned_start: string, planned_end: string}} session
 * @param {string} language
 * @param {Date} now
 * @param {string} todayWord
 */
export function sessionTime(session, language, now, todayWord) {
  const start = new Date(session.planned_start);
  const end = new Date(session.planned_end);
  const locale = language === 'pt' ? 'pt-PT' : 'en-GB';
  const clock = new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' });
  const sameDay = start.toDateString() === now.toDateString();
  const day = sameDay ? todayWord : new Intl.DateTimeFormat(locale, { weekday: 'long', day: 'numeric', month: 'long' }).format(start);
  return { day, start: clock.format(start), end: clock.format(end) };
}
