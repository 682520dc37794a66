// @ts-check
/**
 * The language of every page: Portuguese or English. A person's own choice is
 * remembered on this device (localStorage, wiped by the quick exit); without one
 * the browser's language decides. Each page keeps its words in a table of its own
 * and gets its `t` from `translator(table)`.
 */

/** @typedef {'pt'|'en'} Language */

/** @type {readonly Language[]} */
export const LANGUAGES = Object.freeze(['pt', 'en']);

const CHOSEN = 'telepractice.language';

/** @param {unknown} value @returns {value is Language} */
function isLanguage(value) {
  return value === 'pt' || value === 'en';
}

/** @returns {Language|null} the language chosen on this device, if any */
export function chosenLanguage() {
  try {
    const stored = localStorage.getItem(CHOSEN);
    return isLanguage(stored) ? stored : null;
  } catch {
    return null; // storage refused (private mode)
  }
}

/** @returns {Language} */
function browserLanguage() {
  const preferred = navigator.languages?.length ? navigator.languages : [navigator.language ?? ''];
  for (const tag of preferred) {
    const base = tag.toLowerCase().split('-')[0];
    if (isLanguage(base)) return base;
  }
  return 'en';
}

/** @returns {Language} the language pages show now */
export function currentLanguage() {
  return chosenLanguage() ?? browserLanguage();
}

/**
 * Remember `language` on this device and mark the document with it.
 * @param {Language} language
 */
export function chooseLanguage(language) {
  if (!isLanguage(language)) throw new Error(`not a language of telepractice: ${language}`);
  try {
    localStorage.setItem(CHOSEN, language);
  } catch {
    // Not remembered; the page still switches.
  }
  document.documentElement.lang = language;
}

/**
 * A `t(key, values?)` for one page's table of words. Tables are complete in both
 * languages (tests/unit/test_translations.py checks); a missing word is a bug, so it
 * shows as its key rather than in another language.
 * `{name}` in a text is replaced by `values.name`.
 * @param {{pt: Record<string, string>, en: Record<string, string>}} table
 * @param {() => Language} [language]
 * @returns {(key: string, values?: Record<string, string|number>) => string}
 */
export function translator(table, language = currentLanguage) {
  return (key, values) => {
    const text = table[language()][key] ?? key;
    if (!values) return text;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in values ? String(values[name]) : whole));
  };
}
