// @ts-check
/**
 * The text chat of the call page, for whoever cannot speak freely or hear well
 * (docs/protocol.md, "Text chat"). The server relays each line to everyone in
 * the sender's part of the call and keeps none of it; this page's `Transcript`
 * is the only copy, gone when the page closes, unless the worker saves it to
 * the case record.
 *
 * `Transcript` and the helpers above the DOM part are pure (tests/js/chat.test.mjs);
 * `ChatPanel` is the thin DOM layer: a `role=log` list, a form, an unread count.
 */

/** The server's limit on one line, after trimming (MAX_CHAT_CHARS in telepractice/signaling/messages.py). */
export const MAX_CHAT_CHARS = 1000;
/** The most lines one save sends (MAX_CHAT_LINES in telepractice/sessions/chat_record.py). */
export const MAX_SAVED_LINES = 500;
/** The most JSON one save sends: the server takes 64 KiB bodies (max_body_bytes); a quarter is left to spare. */
export const SAVE_BODY_BYTES = 48 * 1024;
const EMPTY_BODY_BYTES = '{"lines":[]}'.length;

/**
 * @typedef {object} ChatLine   one relayed line, as kept on this page and saved to the record
 * @property {string} from        the sender's participant id
 * @property {string} name        the sender's name as this page showed it
 * @property {string} text
 * @property {string} at          when the server relayed it (ISO 8601, UTC)
 * @property {string|null} side_room  where it was written; null is the main room
 */

/**
 * A line someone typed, ready to send, or null when there is nothing to send or it is too long.
 * @param {string} typed
 * @returns {{text: string}|{error: 'empty'|'too-long'}}
 */
export function draft(typed) {
  const text = typed.trim();
  if (!text) return { error: 'empty' };
  if (text.length > MAX_CHAT_CHARS) return { error: 'too-long' };
  return { text };
}

/**
 * "14:05" in the person's language, from a line's ISO time.
 * @param {string} iso
 * @param {string} language
 */
export function clockTime(iso, language) {
  const moment = new Date(iso);
  if (Number.isNaN(moment.getTime())) return '';
  return moment.toLocaleTimeString(language === 'pt' ? 'pt-PT' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
}

/** Every line this page has received, in order, and how many arrived while the chat was not in view. */
export class Transcript {
  constructor() {
    /** @type {ChatLine[]} */
    this.lines = [];
    this.unread = 0;
  }

  /**
   * Keep one relayed `chat` message; returns the line as kept.
   * @param {{from: string, text: string, at: string, side_room?: string|null}} message
   * @param {{name: string, seen: boolean, mine: boolean}} how  the sender's name; whether the chat is in view; whether we sent it
   * @returns {ChatLine}
   */
  add(message, { name, seen, mine }) {
    const line = { from: message.from, name, text: message.text, at: message.at, side_room: message.side_room ?? null };
    this.lines.push(line);
    if (!seen && !mine) this.unread += 1;
    return line;
  }

  /** The chat is in view: nothing is unread any more. */
  markRead() {
    this.unread = 0;
  }

  /**
   * What saving sends (POST /api/sessions/{id}/record/chat), as bodies to post one after another:
   * every line, copied, in batches of at most MAX_SAVED_LINES lines and `maxBytes` of JSON each, so
   * that a long chat is saved whole rather than refused as too large. The server merges the saves.
   * @param {number} [maxBytes]  the server's body limit less room to spare (max_body_bytes is 64 KiB)
   * @returns {{lines: ChatLine[]}[]}
   */
  forRecord(maxBytes = SAVE_BODY_BYTES) {
    const encoder = new TextEncoder();
    /** @type {{lines: ChatLine[]}[]} */
    const batches = [];
    let batch = /** @type {ChatLine[]} */ ([]);
    let bytes = EMPTY_BODY_BYTES;
    for (const line of this.lines) {
      const size = encoder.encode(JSON.stringify(line)).length + 1; // and its comma
      if (batch.length > 0 && (batch.length === MAX_SAVED_LINES || bytes + size > maxBytes)) {
        batches.push({ lines: batch });
        batch = [];
        bytes = EMPTY_BODY_BYTES;
      }
      batch.push({ ...line });
      bytes += size;
    }
    if (batch.length > 0) batches.push({ lines: batch });
    return batches;
  }

  /** Forget every line: the session is over for this page, or a quick exit. */
  clear() {
    this.lines = [];
    this.unread = 0;
  }
}

// --- the DOM layer ------------------------------------------------------------

/**
 * @typedef {object} ChatElements
 * @property {HTMLElement} panel     the chat section; hidden while closed
 * @property {HTMLElement} log       a list with role=log
 * @property {HTMLFormElement} form
 * @property {HTMLTextAreaElement} input
 * @property {HTMLElement} note      where a line that could not be sent says why (role=status)
 * @property {HTMLButtonElement} toggle  opens and closes the panel
 * @property {HTMLElement} badge     the unread count on the toggle
 *
 * @typedef {object} ChatOptions
 * @property {{send(message: any): boolean, on(type: string, handler: (message: any) => void): any, you: {id: string}|null}} client
 * @property {(key: string, values?: Record<string, string|number>) => string} t
 * @property {string} language
 * @property {(id: string) => string} nameOf
 * @property {(text: string) => any} build  protocol.chat
 */

/** The chat panel: shows relayed lines, sends typed ones, counts the unread. */
export class ChatPanel {
  /**
   * @param {ChatElements} elements
   * @param {ChatOptions} options
   */
  constructor(elements, options) {
    this.elements = elements;
    this.options = options;
    this.transcript = new Transcript();
    const { form, input, toggle } = elements;
    input.maxLength = MAX_CHAT_CHARS;
    toggle.addEventListener('click', () => this.setOpen(elements.panel.hidden));
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      this.send();
    });
    input.addEventListener('keydown', (event) => {
      // Enter sends, as in every chat; Shift+Enter starts a new line.
      if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
        event.preventDefault();
        this.send();
      }
    });
    options.client.on('chat', (message) => this.receive(message));
    options.client.on('error', (message) => {
      if (message.code === 'chat-limited') this.say(options.t('chatTooFast'));
    });
    this.render();
  }

  get open() {
    return !this.elements.panel.hidden;
  }

  /** @param {boolean} open */
  setOpen(open) {
    this.elements.panel.hidden = !open;
    this.elements.toggle.setAttribute('aria-expanded', String(open));
    if (open) {
      this.transcript.markRead();
      this.elements.input.focus();
      this.elements.log.scrollTop = this.elements.log.scrollHeight;
    }
    this.render();
  }

  send() {
    const { input } = this.elements;
    const typed = draft(input.value);
    if ('error' in typed) {
      if (typed.error === 'too-long') this.say(this.options.t('chatTooLong', { max: MAX_CHAT_CHARS }));
      return;
    }
    if (!this.options.client.send(this.options.build(typed.text))) {
      this.say(this.options.t('chatNotSent'));
      return;
    }
    input.value = '';
    this.say('');
  }

  /** @param {{from: string, text: string, at: string, side_room?: string|null}} message */
  receive(message) {
    const mine = message.from === this.options.client.you?.id;
    const seen = this.open && document.visibilityState === 'visible';
    const line = this.transcript.add(message, { name: this.options.nameOf(message.from), seen, mine });
    this.elements.log.append(this.lineElement(line, mine));
    this.elements.log.scrollTop = this.elements.log.scrollHeight;
    this.render();
  }

  /**
   * One line as text (never HTML): who, when, what.
   * @param {ChatLine} line
   * @param {boolean} mine
   */
  lineElement(line, mine) {
    const { t, language } = this.options;
    const item = document.createElement('li');
    item.className = mine ? 'mine' : 'theirs';
    item.dataset.from = line.from;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = mine ? t('you') : line.name;
    const when = document.createElement('time');
    when.dateTime = line.at;
    when.textContent = clockTime(line.at, language);
    const text = document.createElement('p');
    text.className = 'text';
    text.textContent = line.text;
    item.append(who, ' ', when, text);
    return item;
  }

  /** @param {string} text */
  say(text) {
    this.elements.note.textContent = text;
  }

  render() {
    const { badge, toggle } = this.elements;
    const unread = this.transcript.unread;
    badge.textContent = unread ? String(unread) : '';
    badge.hidden = unread === 0;
    const label = this.options.t('chat');
    toggle.setAttribute('aria-label', unread ? `${label} (${this.options.t('chatUnread', { count: unread })})` : label);
  }

  /** Forget the chat (the page is done with the session). */
  clear() {
    this.transcript.clear();
    this.elements.log.replaceChildren();
    this.render();
  }
}
