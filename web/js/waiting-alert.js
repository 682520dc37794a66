// @ts-check
/**
 * The host's "someone is waiting" signal, made to reach a worker who is in another
 * tab: a soft chime (generated with Web Audio, no sound file), the count at the
 * front of the page title, and a BroadcastChannel message the worker's console
 * tab shows too: `{session, waiting, names}` on every change, on the channel
 * `telepractice.waiting`.
 *
 * The page title is shared with the help banner (help.js), so both go through
 * `pageTitle`, which puts each part's count in front of the page's own title.
 */

export const CHANNEL = 'telepractice.waiting';

/** The page's title with parts in front: help alerts, then people waiting. */
class PageTitle {
  constructor() {
    this.base = typeof document === 'undefined' ? '' : document.title;
    /** @type {Map<string, string>} */
    this.parts = new Map();
  }

  /** @param {string} base  the page's own title, in the page's language */
  setBase(base) {
    this.base = base;
    this.render();
  }

  /**
   * @param {'help'|'waiting'} part
   * @param {string} text  '' removes it
   */
  set(part, text) {
    if (text) this.parts.set(part, text);
    else this.parts.delete(part);
    this.render();
  }

  render() {
    const order = ['help', 'waiting'].map((part) => this.parts.get(part)).filter(Boolean);
    document.title = [...order, this.base].join('');
  }
}

export const pageTitle = new PageTitle();

/**
 * One AudioContext for the page, unlocked by the first tap or key press: browsers only let a page
 * play sound after a gesture, and a context unlocked then may play later from a background tab.
 */
let audio = /** @type {AudioContext|null} */ (null);

function audioContext() {
  if (!audio && typeof AudioContext === 'function') audio = new AudioContext();
  return audio;
}

export function unlockSoundOnFirstGesture() {
  const unlock = () => {
    audioContext()?.resume().catch(() => {});
    document.removeEventListener('pointerdown', unlock, true);
    document.removeEventListener('keydown', unlock, true);
  };
  document.addEventListener('pointerdown', unlock, true);
  document.addEventListener('keydown', unlock, true);
}

/**
 * A soft rising chime of three notes; returns whether a sound could be started.
 * @param {number[]} notes  frequencies in Hz
 */
export function chime(notes = [523.25, 659.25, 783.99]) {
  try {
    const context = audioContext();
    if (!context) return false;
    if (context.state === 'suspended') context.resume().catch(() => {});
    const gain = context.createGain();
    gain.gain.value = 0.08;
    gain.connect(context.destination);
    notes.forEach((frequency, index) => {
      const tone = context.createOscillator();
      tone.type = 'sine';
      tone.frequency.value = frequency;
      const envelope = context.createGain();
      const start = context.currentTime + index * 0.16;
      // A quick fade in and out: a bell, not a beep.
      envelope.gain.setValueAtTime(0, start);
      envelope.gain.linearRampToValueAtTime(1, start + 0.02);
      envelope.gain.exponentialRampToValueAtTime(0.001, start + 0.5);
      tone.connect(envelope).connect(gain);
      tone.start(start);
      tone.stop(start + 0.55);
    });
    return true;
  } catch {
    return false; // no sound here: the title and the list still show it
  }
}

/**
 * @typedef {object} WaitingAlertOptions
 * @property {(count: number) => string} titlePart  e.g. "(1) waiting — "
 * @property {() => boolean} [playChime]
 * @property {{postMessage(message: any): void, close(): void}|null} [channel]
 */

/** Tells the worker, in every way a busy worker notices, how many people are in the waiting room. */
export class WaitingAlert {
  /** @param {WaitingAlertOptions} options */
  constructor({ titlePart, playChime = () => chime(), channel }) {
    this.titlePart = titlePart;
    this.playChime = playChime;
    this.channel = channel === undefined
      ? (typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null)
      : channel;
    /** @type {string|null} */
    this.session = null;
    /** @type {Map<string, string>} id -> name of everyone waiting, in arrival order */
    this.waiting = new Map();
    this.chimes = 0;
  }

  /**
   * The waiting room now: a chime when someone new arrived, and the count everywhere.
   * @param {string} session
   * @param {Map<string, string>} waiting  id -> name
   */
  update(session, waiting) {
    const arrived = [...waiting.keys()].some((id) => !this.waiting.has(id));
    const changed = session !== this.session || arrived || waiting.size !== this.waiting.size;
    this.session = session;
    this.waiting = new Map(waiting);
    if (arrived && this.playChime()) this.chimes += 1;
    pageTitle.set('waiting', waiting.size ? this.titlePart(waiting.size) : '');
    if (changed) this.channel?.postMessage({ session, waiting: waiting.size, names: [...waiting.values()] });
  }

  /** Nobody is waiting any more as far as this page knows (it left the session). */
  close() {
    if (this.session && this.waiting.size) this.update(this.session, new Map());
    this.channel?.close();
    this.channel = null;
  }
}
