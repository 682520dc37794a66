// @ts-check
/** Pure rules of what the console shows: flags, counts, times. No DOM, so Node tests them. */

/**
 * The contact flag of one case of /api/cases/overview.
 * @param {{behind: boolean, behind_so_far: boolean}} row
 * @returns {'behind'|'behind-so-far'|'on-track'}
 */
export function contactFlag(row) {
  if (row.behind) return 'behind';
  if (row.behind_so_far) return 'behind-so-far';
  return 'on-track';
}

/**
 * How many people wait in all sessions, from the latest count per session.
 * @param {Map<string, number>} counts
 */
export function totalWaiting(counts) {
  let total = 0;
  for (const count of counts.values()) total += count;
  return total;
}

/**
 * The document title with the number waiting in front, so it shows on the tab.
 * @param {string} base
 * @param {number} waiting
 */
export function titleWith(base, waiting) {
  return waiting > 0 ? `(${waiting}) ${base}` : base;
}

/**
 * Apply one message of the call page's waiting channel; true when someone new is waiting (time to chime).
 * Malformed messages change nothing.
 * @param {Map<string, number>} counts
 * @param {unknown} message `{session, waiting, names}`
 * @returns {boolean}
 */
export function applyWaiting(counts, message) {
  if (!message || typeof message !== 'object') return false;
  const { session, waiting } = /** @type {{session?: unknown, waiting?: unknown}} */ (message);
  if (typeof session !== 'string' || !Number.isInteger(waiting) || /** @type {number} */ (waiting) < 0) return false;
  const before = counts.get(session) ?? 0;
  if (waiting === 0) counts.delete(session);
  else counts.set(session, /** @type {number} */ (waiting));
  return /** @type {number} */ (waiting) > before;
}

/**
 * A date and time in the reader's language and time zone.
 * @param {string|null|undefined} iso
 * @param {string} language
 * @param {string} [none] shown when there is no time
 */
export function when(iso, language, none = '—') {
  if (!iso) return none;
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return none;
  return new Intl.DateTimeFormat(language === 'pt' ? 'pt-PT' : 'en-GB',
    { dateStyle: 'medium', timeStyle: 'short' }).format(moment);
}

/**
 * The value of an `<input type="datetime-local">` as ISO 8601 with the UTC offset the API requires.
 * @param {string} local e.g. "2026-12-01T10:00"
 * @returns {string|null} null when empty or not a time
 */
export function localToIso(local) {
  if (!local) return null;
  const moment = new Date(local);
  return Number.isNaN(moment.getTime()) ? null : moment.toISOString();
}

/**
 * A `datetime-local` value for a moment (default: the next full hour), in local time.
 * @param {Date} [moment]
 */
export function isoToLocalInput(moment) {
  const at = moment ? new Date(moment) : nextHour(new Date());
  const pad = (/** @type {number} */ n) => String(n).padStart(2, '0');
  return `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}T${pad(at.getHours())}:${pad(at.getMinutes())}`;
}

/** @param {Date} now */
function nextHour(now) {
  const at = new Date(now);
  at.setMinutes(0, 0, 0);
  at.setHours(at.getHours() + 1);
  return at;
}

/** Allowed lengths (as the server checks them): family sessions 45–90 minutes, the others 15–180. */
export const LENGTHS = Object.freeze({
  family: [45, 90], individual: [15, 180], case_discussion: [15, 180],
});

/**
 * Whether a length fits a kind of session.
 * @param {'family'|'individual'|'case_discussion'} kind
 * @param {number} minutes
 */
export function lengthFits(kind, minutes) {
  const [low, high] = LENGTHS[kind];
  return Number.isInteger(minutes) && minutes >= low && minutes <= high;
}
