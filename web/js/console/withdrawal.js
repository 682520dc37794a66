// @ts-check
/** Pure rules of recording a withdrawal of consent: the request's body and what the answer means. No DOM. */

/** The longest note the server keeps (telepractice/sessions/schedule_routes.py STAFF_WITHDRAWAL). */
export const NOTE_MAX = 2000;

/**
 * The body of POST .../consent/withdraw from the typed note, or the key of what is wrong with it.
 * An empty note is left out (the server refuses a note of only white space, so none is sent).
 * @param {string} typed
 * @returns {{body: {note?: string}} | {problem: 'withdraw.note-too-long'}}
 */
export function withdrawalBody(typed) {
  const note = typed.trim();
  if (note.length > NOTE_MAX) return { problem: 'withdraw.note-too-long' };
  return { body: note ? { note } : {} };
}

/**
 * The key of the sentence that tells the worker what the server did.
 * @param {{withdrawn: number, note: boolean}} answer
 */
export function withdrawalOutcome(answer) {
  if (answer.withdrawn > 0) return answer.note ? 'withdraw.done-with-note' : 'withdraw.done';
  return 'withdraw.none-stood';
}

/**
 * The key of the sentence for a refused withdrawal: a 409 means a note was given but no consent stands
 * (said plainly, since the console's general "the record changed" would mislead); null for the general words.
 * @param {unknown} error
 */
export function withdrawalProblem(error) {
  const problem = /** @type {{status?: number, field?: string|null}} */ (error ?? {});
  if (problem.status === 409) return 'withdraw.nothing-to-note';
  if (problem.field === 'note') return 'withdraw.note-blank';
  return null;
}

/**
 * One family member's consent as the case record shows it: consent or assent standing (the newest), else
 * the newest withdrawal, else the newest refusal, else none. Both events of a consent stay in the record;
 * this picks what the worker needs to see first.
 * @param {string} participantId
 * @param {{participant_id: string, given_at: string, withdrawn_at: string|null, text_version: string}[]} history
 * @param {{participant_id: string, refused_at: string, text_version: string}[]} refusals
 * @returns {{state: 'given'|'withdrawn'|'refused'|'none', at: string|null, version: string|null}}
 */
export function consentState(participantId, history, refusals) {
  const own = history.filter((c) => c.participant_id === participantId);
  const newest = (/** @type {any[]} */ rows, /** @type {string} */ key) =>
    rows.reduce((best, row) => (best === null || row[key] > best[key] ? row : best), null);
  const standing = newest(own.filter((c) => c.withdrawn_at === null), 'given_at');
  if (standing) return { state: 'given', at: standing.given_at, version: standing.text_version };
  const withdrawn = newest(own.filter((c) => c.withdrawn_at !== null), 'withdrawn_at');
  if (withdrawn) return { state: 'withdrawn', at: withdrawn.withdrawn_at, version: withdrawn.text_version };
  const refused = newest(refusals.filter((r) => r.participant_id === participantId), 'refused_at');
  if (refused) return { state: 'refused', at: refused.refused_at, version: refused.text_version };
  return { state: 'none', at: null, version: null };
}
