// @ts-check
/**
 * The quick exit's page (web/exit.html) copies a blank browser tab. A blank tab is
 * titled in the browser's own language, so an English "New Tab" in a Portuguese
 * browser would stand out to someone looking over a shoulder: the title and the
 * page's language follow the browser's. Nothing is read from storage (the exit
 * wiped it) and nothing is sent.
 */

/** Chromium's title of a blank tab, by language (the region only where the word differs). */
const NEW_TAB = Object.freeze({
  'pt-br': 'Nova guia',
  pt: 'Novo separador',
  es: 'Nueva pestaña',
  fr: 'Nouvel onglet',
  de: 'Neuer Tab',
  it: 'Nuova scheda',
  en: 'New Tab',
});

/**
 * The blank tab's title and language for the browser's first preferred language; English otherwise.
 * @param {readonly string[]} languages  navigator.languages
 * @returns {{lang: string, title: string}}
 */
export function blankTab(languages) {
  const preferred = String(languages[0] ?? 'en').toLowerCase();
  const table = /** @type {Record<string, string>} */ (NEW_TAB);
  const base = preferred.split('-')[0];
  if (table[preferred]) return { lang: preferred, title: table[preferred] };
  if (table[base]) return { lang: base, title: table[base] };
  return { lang: 'en', title: NEW_TAB.en };
}

if (typeof document !== 'undefined') {
  const { lang, title } = blankTab(navigator.languages?.length ? navigator.languages : [navigator.language]);
  document.documentElement.lang = lang;
  document.title = title;
}
