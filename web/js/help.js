// @ts-check
/**
 * The safety signal on the call page (docs/protocol.md, "Asking for help").
 *
 * Family: a small, neutral-looking button (and Alt+H) sends `help`. Nothing on
 * the screen says "help", nothing changes for anyone else in the call, and the
 * only sign on this screen is a faint change of the button's dots for a few
 * seconds (or none, with `data-confirm="none"` on the button). Practitioners
 * show a child the button and the shortcut beforehand, as they agree a safety
 * word.
 *
 * Staff: a banner that stays until someone acknowledges each alert, with the
 * count in the banner and the page title, and a soft two-note chime.
 */

import * as protocol from './protocol.js';
import { t } from './call-text.js';
import { chime, pageTitle } from './waiting-alert.js';

/** How long the family's button shows its faint "sent" dots. */
export const SENT_MARK_MS = 4000;

/**
 * @typedef {{send(message: import('./protocol.js').Message): boolean|void,
 *            on(type: string, handler: (message: any) => void): any}} HelpClient
 */

/**
 * Wire the family's help button and shortcut. Returns the function that sends help (tests and the shortcut use it).
 * @param {HelpClient} client
 * @param {HTMLButtonElement} button
 * @param {Document} doc
 */
export function familyHelp(client, button, doc = document) {
  button.setAttribute('aria-label', t('helpButton'));
  button.title = t('helpButton');
  let clearMark = 0;
  const ask = () => {
    client.send(protocol.help());
    if (button.dataset.confirm === 'none') return;
    button.classList.add('sent');
    clearTimeout(clearMark);
    clearMark = window.setTimeout(() => button.classList.remove('sent'), SENT_MARK_MS);
  };
  button.addEventListener('click', (event) => {
    event.preventDefault();
    ask();
    button.blur(); // no focus ring left behind to draw the eye
  });
  doc.addEventListener('keydown', (event) => {
    if (event.altKey && !event.ctrlKey && !event.metaKey && event.code === 'KeyH' && !button.hidden) {
      event.preventDefault();
      ask();
    }
  });
  // A refused help (over the limit) shows nowhere: the earlier ones already reached staff.
  return ask;
}

/**
 * Show staff every open alert until it is acknowledged.
 * @param {HelpClient} client
 * @param {HTMLElement} banner   an element with a heading, a list and nothing else
 * @param {(id: string) => string} nameOf
 */
export function staffAlerts(client, banner, nameOf) {
  const heading = /** @type {HTMLElement} */ (banner.querySelector('h2'));
  const list = /** @type {HTMLElement} */ (banner.querySelector('ul'));

  const render = () => {
    const count = list.children.length;
    heading.textContent = `${t('helpRequested')} (${count})`;
    banner.hidden = count === 0;
    banner.dataset.count = String(count);
    pageTitle.set('help', count ? `(${count}) ` : '');
  };

  client.on('help-requested', (message) => {
    const id = String(message.alert);
    if (list.querySelector(`[data-alert="${CSS.escape(id)}"]`)) return; // told again on reconnecting
    const item = document.createElement('li');
    item.dataset.alert = id;
    item.dataset.participant = message.participant.id;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = message.participant.name ? nameOf(message.participant.id) : message.participant.id;
    const when = document.createElement('time');
    const now = new Date();
    when.dateTime = now.toISOString();
    when.textContent = now.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
    const acknowledge = document.createElement('button');
    acknowledge.type = 'button';
    acknowledge.className = 'acknowledge';
    acknowledge.textContent = t('acknowledge');
    acknowledge.addEventListener('click', () => {
      acknowledge.disabled = true;
      client.send(protocol.helpAcknowledge(id));
    });
    item.append(who, ' ', t('askedForHelp'), ' ', when, ' ', acknowledge);
    list.append(item);
    render();
    chime([660, 880]); // two notes, softer than the waiting room's three: noticed, never alarming
  });
  client.on('help-acknowledged', (message) => {
    list.querySelector(`[data-alert="${CSS.escape(String(message.alert))}"]`)?.remove();
    render();
  });
  render();
}
