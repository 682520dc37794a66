// @ts-check
/**
 * The frame every page of the family's path shares: the language switch and the quick exit
 * in the top bar, and one step at a time in <main>, its heading focused so a screen reader
 * announces where the person is now.
 */

import { FAMILY_TEXT, LANGUAGE_NAMES } from '../family-text.js';
import { LANGUAGES, chooseLanguage, currentLanguage, translator } from '../i18n.js';
import { installQuickExit } from '../quick-exit.js';

export const t = translator(FAMILY_TEXT);

/**
 * The words for a child where the table has a child's version (`<key>Child`: "tu", simpler), else the usual.
 * @param {boolean} child
 * @returns {(key: string, values?: Record<string, string|number>) => string}
 */
export function wordsFor(child) {
  return (key, values) => (child && `${key}Child` in FAMILY_TEXT.en ? t(`${key}Child`, values) : t(key, values));
}

/**
 * An element with properties and children; text goes in as text nodes, never as markup.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Partial<HTMLElementTagNameMap[K]> & {dataset?: Record<string, string>}} [props]
 * @param {(Node|string)[]} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function el(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  const { dataset, ...rest } = props;
  Object.assign(element, rest);
  if (dataset) Object.assign(element.dataset, dataset);
  element.append(...children);
  return element;
}

/** @param {string} id @returns {HTMLElement} */
export function byId(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`the page has no #${id}`);
  return found;
}

/**
 * Set up the top bar: quick exit and language switch; `onLanguage` re-draws the page's words.
 * Returns the bar's own redraw, for a language chosen elsewhere on the page.
 * @param {() => void} onLanguage
 * @returns {() => void}
 */
export function frame(onLanguage) {
  const exit = /** @type {HTMLButtonElement} */ (byId('quick-exit'));
  installQuickExit(exit);
  const switcher = byId('languages');
  const draw = () => {
    document.documentElement.lang = currentLanguage();
    document.title = t('pageTitle');
    exit.textContent = t('quickExit');
    exit.title = t('quickExitHint');
    switcher.setAttribute('aria-label', t('languages'));
    switcher.replaceChildren(...LANGUAGES.map((language) => {
      const button = el('button', { type: 'button', lang: language, className: 'language', textContent: LANGUAGE_NAMES[language] });
      button.setAttribute('aria-pressed', String(language === currentLanguage()));
      button.addEventListener('click', () => {
        if (language === currentLanguage()) return;
        chooseLanguage(language);
        draw();
        onLanguage();
      });
      return button;
    }));
  };
  draw();
  return draw;
}

/**
 * Show one step: its heading (focused) and body, in place of whatever was shown.
 * @param {string} name   the step's name, for styles and tests (data-step)
 * @param {string} heading
 * @param {(Node|string)[]} body
 */
export function showStep(name, heading, ...body) {
  const main = byId('step');
  main.dataset.step = name;
  document.body.dataset.step = name; // the language step hides the bar's own switch (family.css)
  const title = el('h1', { tabIndex: -1, textContent: heading });
  main.replaceChildren(title, ...body);
  title.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}
