// @ts-check
/**
 * The quick exit: one tap (or Escape twice) ends whatever is going on and puts a
 * neutral page in this tab's place, for a family member who is not alone at home.
 * The page registers its own cleanups (leave the call, close sockets); this module
 * then stops every camera and microphone track it can reach, wipes what this
 * origin keeps in localStorage and sessionStorage, and replaces the current history
 * entry, so Back does not lead into the session and history.length is unchanged.
 */

/** Where the tab lands: a page that says nothing about us (web/exit.html). */
export const EXIT_PATH = '/exit';

/** Two Escape presses closer than this count as a quick exit; one alone closes dialogs as usual. */
export const ESCAPE_WINDOW_MS = 800;

/** @type {(() => void)[]} */
const cleanups = [];

/** @type {Set<MediaStream>} */
const streams = new Set();

/**
 * Register a cleanup run first on a quick exit (leave the call, stop tracks, close sockets).
 * A cleanup that throws does not stop the exit.
 * @param {() => void} cleanup
 */
export function onQuickExit(cleanup) {
  cleanups.push(cleanup);
}

/**
 * Stop this stream's tracks on a quick exit even if no video element shows it (a level meter's stream).
 * @param {MediaStream} stream
 */
export function stopOnQuickExit(stream) {
  streams.add(stream);
}

let leaving = false;

/** Run the cleanups, stop every media track, wipe this origin's storage, and replace the page with /exit. */
export function quickExit() {
  if (leaving) return;
  leaving = true;
  for (const cleanup of cleanups.splice(0)) {
    try {
      cleanup();
    } catch {
      // One failing cleanup must not keep the session on screen.
    }
  }
  for (const media of document.querySelectorAll('video, audio')) {
    const element = /** @type {HTMLMediaElement} */ (media);
    if (element.srcObject instanceof MediaStream) streams.add(element.srcObject);
    element.srcObject = null;
  }
  for (const stream of streams) {
    for (const track of stream.getTracks()) track.stop();
  }
  streams.clear();
  for (const storage of [() => localStorage, () => sessionStorage]) {
    try {
      storage().clear();
    } catch {
      // Storage refused (private mode): nothing was kept there.
    }
  }
  document.title = 'New Tab';
  document.body?.replaceChildren();
  location.replace(EXIT_PATH);
}

/**
 * Wire a button, and Escape pressed twice quickly anywhere on the page, to quickExit().
 * @param {HTMLElement} button
 * @param {{now?: () => number}} [options]  a clock, for tests
 */
export function installQuickExit(button, { now = () => performance.now() } = {}) {
  // pointerdown as well as click: on a slow phone the exit should start at the touch, not its end.
  button.addEventListener('pointerdown', (event) => {
    if (event.button === 0) quickExit();
  });
  button.addEventListener('click', quickExit);
  let lastEscape = -Infinity;
  document.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape' || event.repeat) return;
    const at = now();
    if (isSecondPress(lastEscape, at)) quickExit();
    lastEscape = at;
  });
}

/**
 * Whether a key press at `at` follows one at `previous` closely enough to be a double press.
 * @param {number} previous
 * @param {number} at
 */
export function isSecondPress(previous, at) {
  return at - previous >= 0 && at - previous <= ESCAPE_WINDOW_MS;
}
