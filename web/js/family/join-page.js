// @ts-check
/**
 * The family's path from a personal link to the call (web/join.html): language, the join code
 * when the link needs one, plain-words consent (or a child's assent) with a real choice to say
 * no, then the camera and microphone check; then the call page takes over in the same history
 * entry. Every answer comes from and goes to the server's /api/join/* endpoints.
 */

import { storeCredentials, takeCredentials } from '../credentials.js';
import { chooseLanguage, chosenLanguage, currentLanguage } from '../i18n.js';
import { afterRefusal, linkProblem, nextStep, sessionTime, waitsForGuardian } from './steps.js';
import { byId, el, frame, showStep, t, wordsFor } from './ui.js';

/** @typedef {import('./steps.js').JoinSummary} JoinSummary */
/** @typedef {import('./steps.js').ConsentStep} ConsentStep */

class NetworkDown extends Error {}

/**
 * One call to the join API; the token goes in the body or the Authorization header, never the URL.
 * @param {string} path
 * @param {{body?: object, token?: string}} options
 * @returns {Promise<{status: number, body: any, headers: Headers}>}
 */
async function api(path, { body, token }) {
  /** @type {Record<string, string>} */
  const headers = {};
  if (body) headers['Content-Type'] = 'application/json';
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(path, { method: body ? 'POST' : 'GET', headers, body: body ? JSON.stringify(body) : undefined, cache: 'no-store' });
  } catch {
    throw new NetworkDown();
  }
  return { status: response.status, body: await response.json().catch(() => ({})), headers: response.headers };
}

const credentials = takeCredentials();
/** @type {string} */
let token = credentials && credentials.session === null ? credentials.token : '';
/** @type {JoinSummary|null} */
let summary = null;
/** Children whose guardian consent was answered in this visit. */
const answered = new Set();
/** Re-draws the step shown now, in the language just chosen. */
let redraw = () => {};
/** @type {import('./preview.js').Preview|null} */
let preview = null;

/**
 * A module asked for at once, and asked for again when awaited after a failed try.
 * @template T
 * @param {() => Promise<T>} load
 * @returns {() => Promise<T>}
 */
function prefetched(load) {
  /** @type {Promise<T>|null} */
  let pending = null;
  const get = () => {
    // A phone that lost its signal for the first try must not be stuck on the network step for good.
    pending ??= load().catch((error) => {
      pending = null;
      throw error;
    });
    return pending;
  };
  get().catch(() => {}); // a failure is answered where the module is awaited (the network step)
  return get;
}

// Asked for once the first step's modules have run, not with them: on a slow link the first screen waits for
// each file it needs, and the consent text and the camera check come later, after the person has chosen.
const consentTextModule = prefetched(() => import('./markdown.js'));
const cameraCheckModule = prefetched(() => import('./preview.js'));

const redrawFrame = frame(() => redraw());

/**
 * Show a step and remember how to draw it again after a language switch.
 * @param {() => void} draw
 */
function present(draw) {
  redraw = draw;
  draw();
}

/** Ask the server where this link stands and show the next step. */
async function advance() {
  present(() => showStep('loading', t('loading')));
  let answer;
  try {
    answer = await api('/api/join/check', { body: { token } });
  } catch {
    present(networkPage);
    return;
  }
  if (answer.status !== 200) {
    present(() => linkPage(linkProblem(answer.status, answer.body.code) ?? 'link-invalid'));
    return;
  }
  summary = answer.body;
  const step = nextStep(/** @type {JoinSummary} */ (summary), { languageChosen: chosenLanguage() !== null, answered });
  if (step.name === 'language') present(languagePage);
  else if (step.name === 'code') present(codePage);
  else if (step.name === 'consent') present(() => consentPage(step.step));
  else present(previewPage);
}

/** The page's words, in a child's version for a minor's own link. */
function words() {
  return wordsFor(Boolean(summary?.participant.is_minor));
}

/** Everyone's first words: hello (when the server may say the name) and the session's time. */
function greeting() {
  const parts = [];
  if (summary?.participant.first_name) parts.push(el('p', { className: 'lead', textContent: t('hello', { name: summary.participant.first_name }) }));
  if (summary) parts.push(el('p', { className: 'when', textContent: words()('sessionTime', sessionTime(summary.session, currentLanguage(), new Date(), t('today'))) }));
  return parts;
}

function languagePage() {
  // The person's own language (as the worker noted it) comes first.
  /** @type {('pt'|'en')[]} */
  const choices = summary?.participant.language === 'en' ? ['en', 'pt'] : ['pt', 'en'];
  const buttons = choices.map((language) => {
    const button = el('button', { type: 'button', className: 'primary big', lang: language, dataset: { language },
      textContent: language === 'pt' ? 'Português' : 'English' });
    button.addEventListener('click', () => {
      chooseLanguage(language);
      redrawFrame();
      advance();
    });
    return button;
  });
  showStep('language', t('chooseTitle'), el('div', { className: 'choices' }, ...buttons), el('p', { className: 'hint', textContent: t('chooseText') }));
}

function codePage() {
  const input = el('input', { id: 'join-code', name: 'code', inputMode: 'numeric', autocomplete: 'one-time-code',
    maxLength: 6, pattern: '[0-9]{6}', required: true });
  const message = el('p', { className: 'message', id: 'code-message' });
  message.setAttribute('role', 'alert');
  input.setAttribute('aria-describedby', 'code-message');
  const form = el('form', { className: 'code-form', noValidate: true },
    el('label', { htmlFor: 'join-code', textContent: t('codeLabel') }), input, message,
    el('button', { type: 'submit', className: 'primary big', textContent: t('codeSend') }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const code = input.value.replace(/\D/g, '');
    if (code.length !== 6) {
      message.textContent = t('codeShort');
      return;
    }
    let answer;
    try {
      answer = await api('/api/join/code', { body: { token, code } });
    } catch {
      present(networkPage);
      return;
    }
    if (answer.status === 200) {
      token = answer.body.token;
      storeCredentials({ token, session: null, resume: null });
      advance();
    } else if (answer.status === 422) {
      message.textContent = t('codeWrong', { left: answer.body.tries_left ?? '' });
      input.select();
    } else if (answer.status === 429) {
      message.textContent = t('codeWait', { seconds: answer.headers.get('Retry-After') ?? '60' });
    } else {
      present(() => linkPage(linkProblem(answer.status, answer.body.code) ?? 'link-invalid'));
    }
  });
  showStep('code', t('codeTitle'), ...greeting(), el('p', { textContent: t('codeText') }), form);
}

/**
 * The consent (or assent, or a guardian's consent for a child) text from the server, and the choice.
 * @param {ConsentStep} step
 */
async function consentPage(step) {
  const language = currentLanguage();
  const words = step.audience === 'child'
    ? { title: t('assentTitle'), intro: t('assentIntro'), yes: t('assentYes'), no: t('assentNo') }
    : step.audience === 'guardian'
      ? { title: t('guardianTitle', { name: step.first_name }), intro: t('guardianIntro', { name: step.first_name }), yes: t('agree'), no: t('refuse') }
      : { title: t('consentTitle'), intro: t('consentIntro'), yes: t('agree'), no: t('refuse') };
  showStep('consent', words.title, el('p', { textContent: t('loading') }));
  let answer;
  let parseConsentText;
  try {
    const query = new URLSearchParams({ participant: step.participant, language });
    answer = await api(`/api/join/consent-text?${query}`, { token });
    ({ parseConsentText } = await consentTextModule());
  } catch {
    present(networkPage);
    return;
  }
  if (answer.status !== 200) {
    present(() => linkPage(linkProblem(answer.status, answer.body.code) ?? 'link-invalid'));
    return;
  }
  if (currentLanguage() !== language) return; // switched meanwhile: the redraw fetches the other text
  const text = answer.body;
  const message = el('p', { className: 'message' });
  message.setAttribute('role', 'status');
  const yes = el('button', { type: 'button', className: 'primary big', id: 'agree', textContent: words.yes });
  const no = el('button', { type: 'button', className: 'secondary big', id: 'refuse', textContent: words.no });
  /** @param {'agree'|'refuse'} decision */
  const decide = async (decision) => {
    yes.disabled = no.disabled = true;
    message.textContent = t('saving');
    let saved;
    try {
      saved = await api('/api/join/consent', { body: { token, participant: step.participant, version: text.version,
        language: text.language, decision } });
    } catch {
      saved = null;
    }
    // 409: refusing what is already on record (given on another device meanwhile); the check says what stands.
    if (saved && (saved.status === 200 || saved.status === 409)) {
      answered.add(step.participant);
      if (decision === 'refuse' && summary && afterRefusal(summary, step) === 'stop') present(() => refusedPage(step));
      else advance();
      return;
    }
    const problem = saved && linkProblem(saved.status, saved.body.code);
    if (problem) {
      present(() => linkPage(problem));
      return;
    }
    message.textContent = t('saveFailed');
    yes.disabled = no.disabled = false;
  };
  yes.addEventListener('click', () => decide('agree'));
  no.addEventListener('click', () => decide('refuse'));
  showStep('consent', words.title, ...(step.audience === 'guardian' ? [] : greeting()),
    el('p', { className: 'lead', textContent: words.intro }),
    consentArticle(parseConsentText, text.text, text.language),
    el('div', { className: 'choices' }, yes, no), message);
}

/**
 * The consent text as elements; its language marked, since it may differ from the page's.
 * @param {typeof import('./markdown.js').parseConsentText} parseConsentText
 * @param {string} source
 * @param {string} language
 */
function consentArticle(parseConsentText, source, language) {
  const article = el('article', { className: 'consent-text', lang: language });
  for (const block of parseConsentText(source)) {
    if (block.type === 'heading') article.append(el('h2', { textContent: block.text }));
    else if (block.type === 'paragraph') article.append(el('p', {}, ...runs(block.inlines)));
    else article.append(el('ul', {}, ...block.items.map((item) => el('li', {}, ...runs(item)))));
  }
  return article;
}

/** @param {import('./markdown.js').Inline[]} inlines */
function runs(inlines) {
  return inlines.map((run) => (run.strong ? el('strong', { textContent: run.text }) : run.text));
}

/** @param {ConsentStep} step */
function refusedPage(step) {
  preview?.stop();
  const child = step.audience === 'child';
  showStep('refused', t(child ? 'assentRefusedTitle' : 'refusedTitle'),
    el('p', { className: 'lead', textContent: t(child ? 'assentRefusedText' : 'refusedText') }),
    el('p', { textContent: t('refusedNext') }),
    el('p', { textContent: t('refusedChange') }),
    el('p', { textContent: t('refusedClose') }));
}

async function previewPage() {
  if (!preview) {
    redraw = () => {}; // a language switch before the module is here draws nothing: draw() below uses the new one
    let Preview;
    try {
      ({ Preview } = await cameraCheckModule());
    } catch {
      present(networkPage);
      return;
    }
    preview ??= new Preview(byId('step'));
  }
  const current = preview;
  const join = el('button', { type: 'button', className: 'primary big', id: 'join', textContent: t('join') });
  join.disabled = true;
  join.addEventListener('click', () => {
    current.stop();
    storeCredentials({ token, session: null, resume: null });
    // replace, not assign: the tab keeps one history entry for the whole path, and Back leaves it.
    location.replace('/call');
  });
  const status = el('p', { className: 'message', textContent: t('previewStarting') });
  status.setAttribute('role', 'status');
  const draw = () => {
    // Made afresh on each draw, so a language switch reaches every word.
    const w = words();
    const notes = [el('p', { className: 'hint', textContent: w('waitingNote') })];
    if (summary && waitsForGuardian(summary)) notes.unshift(el('p', { className: 'note', id: 'guardian-needed', textContent: t('guardianNeeded') }));
    if (status.textContent) status.textContent = t('previewStarting');
    showStep('preview', w('previewTitle'), ...greeting(), el('p', { textContent: w('previewText') }),
      ...current.view(retry, w), status, ...notes, join);
    join.textContent = current.joinLabel(w);
    // While the fix can still bring the camera back, trying again is the first choice, joining without it the second.
    join.className = current.blocked() ? 'secondary big' : 'primary big';
    // Moving the video into the new step paused it (as any media element taken out of the page).
    if (current.video.srcObject) current.video.play().catch(() => {});
  };
  const retry = async () => {
    status.textContent = t('previewStarting');
    join.disabled = true;
    await current.start();
    status.textContent = '';
    join.disabled = false;
    draw();
  };
  redraw = draw;
  draw();
  if (!current.stream && !current.problem) await retry();
  else join.disabled = false;
}

/** @param {'link-ended'|'link-locked'|'link-invalid'|'link-missing'} problem */
function linkPage(problem) {
  preview?.stop();
  storeCredentials(null); // nothing to come back to in this tab
  const why = { 'link-ended': 'linkEnded', 'link-locked': 'linkLocked', 'link-missing': 'linkMissing', 'link-invalid': null }[problem];
  const parts = why ? [el('p', { className: 'lead', textContent: t(why) })] : [];
  if (problem !== 'link-missing') parts.push(el('p', { textContent: t('linkText') }));
  showStep(problem, t('linkTitle'), ...parts);
}

function networkPage() {
  const again = el('button', { type: 'button', className: 'primary big', textContent: t('tryAgain') });
  again.addEventListener('click', advance);
  showStep('network', t('networkTitle'), el('p', { textContent: t('networkText') }), again);
}

if (token) advance();
else present(() => linkPage('link-missing'));
