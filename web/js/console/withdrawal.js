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
