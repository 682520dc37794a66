// @ts-check
/**
 * The consent texts are short Markdown files (telepractice/sessions/consent_texts/): headings,
 * paragraphs, bullet lists and **bold**. This reads that much into plain blocks the page turns
 * into elements with textContent, so a text can never inject markup. DOM-free, for Node's tests.
 */

/** @typedef {{text: string, strong: boolean}} Inline */
/** @typedef {{type: 'heading', text: string} | {type: 'paragraph', inlines: Inline[]} | {type: 'list', items: Inline[][]}} Block */

/**
 * @param {string} source
 * @returns {Block[]}
 */
export function parseConsentText(source) {
  /** @type {Block[]} */
  const blocks = [];
  /** @type {string[]} */
  let paragraph = [];
  /** @type {string[][]|null} */
  let list = null;
  const flush = () => {
    if (paragraph.length) blocks.push({ type: 'paragraph', inlines: inlines(paragraph.join(' ')) });
    if (list) blocks.push({ type: 'list', items: list.map((item) => inlines(item.join(' '))) });
    paragraph = [];
    list = null;
  };
  for (const raw of source.replace(/\r\n?/g, '\n').split('\n')) {
    const line = raw.trim();
    if (!line) {
      flush();
    } else if (/^#{1,6}\s/.test(line)) {
      flush();
      blocks.push({ type: 'heading', text: line.replace(/^#{1,6}\s+/, '') });
    } else if (/^[-*]\s/.test(line)) {
      if (paragraph.length) flush();
      list ??= [];
      list.push([line.slice(2).trim()]);
    } else if (list && /^\s/.test(raw)) {
      list[list.length - 1].push(line); // an item's continuation line
    } else {
      if (list) flush();
      paragraph.push(line);
    }
  }
  flush();
  return blocks;
}

/**
 * **bold** runs and plain runs of one line of text.
 * @param {string} text
 * @returns {Inline[]}
 */
export function inlines(text) {
  const parts = text.split('**');
  // An odd number of ** leaves the last one unmatched: it stays as text instead of starting bold.
  if (parts.length % 2 === 0) parts.splice(-2, 2, `${parts[parts.length - 2]}**${parts[parts.length - 1]}`);
  return parts.map((part, index) => ({ text: part, strong: index % 2 === 1 })).filter((run) => run.text);
}
