// @ts-check
/** The front page (web/index.html): its words in the visitor's language, and a switch between pt and en. */

import { FRONT_TEXT } from './front-text.js';
import { LANGUAGES, chooseLanguage, currentLanguage, translator } from './i18n.js';

const t = translator(FRONT_TEXT);
const NAMES = { pt: 'Português', en: 'English' };

function render() {
  const language = currentLanguage();
  document.documentElement.lang = language;
  for (const element of document.querySelectorAll('[data-text]')) {
    element.textContent = t(/** @type {HTMLElement} */ (element).dataset.text ?? '');
  }
  document.querySelector('nav.languages')?.setAttribute('aria-label', t('languages'));
  for (const button of document.querySelectorAll('nav.languages button')) {
    button.setAttribute('aria-pressed', String(/** @type {HTMLElement} */ (button).dataset.language === language));
  }
}

const switcher = document.querySelector('nav.languages');
for (const language of LANGUAGES) {
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'language';
  button.dataset.language = language;
  button.lang = language; // each name read in its own language
  button.textContent = NAMES[language];
  button.addEventListener('click', () => {
    chooseLanguage(language);
    render();
  });
  switcher?.append(button);
}
render();
