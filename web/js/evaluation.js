// @ts-check
/**
 * The family's evaluation at the end of a session: three short questions, sent once
 * to POST /api/join/evaluation with the family member's own token in the body (never the URL).
 * Sent or skipped, the goodbye page takes this tab's place: there is no way back into the call.
 */

import { storeCredentials } from './credentials.js';
import { FAMILY_TEXT } from './family-text.js';
import { currentLanguage, translator } from './i18n.js';

const t = translator(FAMILY_TEXT);

/** Where the family's path ends (web/goodbye.html). */
export const GOODBYE_PATH = '/goodbye';

/** Forget the call and show the goodbye page in this history entry. */
export function goodbye() {
  storeCredentials(null);
  location.replace(GOODBYE_PATH);
}

/**
 * Show the three questions in `section`; once answered or skipped, the goodbye page follows.
 * @param {HTMLElement} section
 * @param {string} token  the resume token of the call, or the link's own token
 */
export function showEvaluation(section, token) {
  const form = document.createElement('form');
  form.className = 'evaluation-form';
  const title = document.createElement('h2');
  title.textContent = t('evaluationTitle');
  title.tabIndex = -1;
  form.append(title, scale('usefulness', t('questionUseful')), scale('comfort', t('questionComfortable')));
  const commentLabel = document.createElement('label');
  commentLabel.textContent = t('questionComment');
  const comment = document.createElement('textarea');
  comment.name = 'comment';
  comment.maxLength = 1000;
  comment.rows = 3;
  commentLabel.append(comment);
  const send = document.createElement('button');
  send.type = 'submit';
  send.textContent = t('evaluationSend');
  const skip = document.createElement('button');
  skip.type = 'button';
  skip.className = 'skip';
  skip.textContent = t('evaluationSkip');
  skip.addEventListener('click', goodbye);
  const outcome = document.createElement('p');
  outcome.className = 'outcome';
  outcome.setAttribute('role', 'status');
  form.append(commentLabel, send, skip, outcome);
  section.replaceChildren(form);
  section.hidden = false;
  title.focus({ preventScroll: false });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const usefulness = Number(data.get('usefulness'));
    const comfort = Number(data.get('comfort'));
    if (!usefulness || !comfort) {
      outcome.textContent = t('evaluationIncomplete');
      return;
    }
    send.disabled = true;
    const text = String(data.get('comment') ?? '').trim();
    const response = await fetch('/api/join/evaluation', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ token, usefulness, comfort, comment: text || null, language: currentLanguage() }),
    }).catch(() => null);
    if (response && (response.status === 201 || response.status === 409)) {
      const body = response.status === 409 ? await response.json().catch(() => ({})) : {};
      if (response.status === 201 || body.code === 'evaluation-already-answered') {
        goodbye();
        return;
      }
    }
    outcome.textContent = t('evaluationFailed');
    send.disabled = false;
  });
}

/**
 * One 1-to-5 question as a row of radio buttons.
 * @param {string} name
 * @param {string} question
 */
function scale(name, question) {
  const group = document.createElement('fieldset');
  group.className = 'scale';
  const legend = document.createElement('legend');
  legend.textContent = question;
  group.append(legend);
  for (let value = 1; value <= 5; value += 1) {
    const label = document.createElement('label');
    const input = document.createElement('input');
    input.type = 'radio';
    input.name = name;
    input.value = String(value);
    label.append(input, ` ${value}`);
    group.append(label);
  }
  return group;
}
