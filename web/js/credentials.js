// @ts-check
/**
 * Where the call page's token comes from: the URL fragment of the link (which
 * never reaches the server), wiped from the address bar at once, and kept in
 * sessionStorage so that a reload comes back into the call.
 */

const STORED = 'telepractice.call';

/**
 * @typedef {object} Credentials
 * @property {string} token          the link's own token (join token, or a staff access token)
 * @property {string|null} session   staff name the session; a join token names it itself
 * @property {string|null} resume    the resume token of the last welcome, once there is one
 */

/**
 * The token from the fragment, which never reaches the server, wiped from the address bar at once.
 * They are kept in sessionStorage (this tab only, gone when it closes) so that reloading the page
 * comes back into the call, as a dropped connection does.
 * @returns {Credentials|null}
 */
export function takeCredentials() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  history.replaceState(null, '', location.pathname + location.search);
  const invite = fragment.get('invite');
  const staff = fragment.get('staff');
  /** @type {Credentials|null} */
  let credentials = null;
  if (invite) credentials = { token: invite, session: null, resume: null };
  else if (staff) credentials = { token: staff, session: fragment.get('session'), resume: null };
  else credentials = storedCredentials();
  if (credentials) storeCredentials(credentials);
  return credentials;
}

/** @returns {Credentials|null} */
function storedCredentials() {
  try {
    const stored = JSON.parse(sessionStorage.getItem(STORED) ?? 'null');
    return stored && typeof stored.token === 'string' ? stored : null;
  } catch {
    return null;
  }
}

/** @param {Credentials|null} credentials  null forgets them */
export function storeCredentials(credentials) {
  try {
    if (credentials) sessionStorage.setItem(STORED, JSON.stringify(credentials));
    else sessionStorage.removeItem(STORED);
  } catch {
    // Storage refused (private mode): a reload then needs the link again.
  }
}
