// @ts-check
/** Building the console's DOM: elements from data, never from HTML strings (no injection, no inline styles). */

/**
 * An element with attributes, properties and children. `on*` functions become listeners;
 * `class`, `for`, `aria-*`, `data-*` and the rest become attributes; `false`/`null` are left out.
 * @param {string} tag
 * @param {Record<string, unknown>} [attributes]
 * @param {...(Node|string|number|null|undefined|false)} children
 * @returns {HTMLElement}
 */
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name.startsWith('on') && typeof value === 'function') {
      element.addEventListener(name.slice(2), /** @type {EventListener} */ (value));
    } else if (name === 'value' || name === 'checked' || name === 'selected') {
      /** @type {any} */ (element)[name] = value;
    } else {
      element.setAttribute(name, value === true ? '' : String(value));
    }
  }
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue;
    element.append(typeof child === 'number' ? String(child) : child);
  }
  return element;
}

/**
 * A labelled form field: the label's `for` names the control, and an error line follows it.
 * @param {string} label
 * @param {HTMLElement} control (given an id if it has none)
 * @param {string} [hint]
 */
export function field(label, control, hint) {
  if (!control.id) control.id = `f-${Math.random().toString(36).slice(2, 9)}`;
  const hintElement = hint ? h('p', { class: 'hint', id: `${control.id}-hint` }, hint) : null;
  if (hintElement) control.setAttribute('aria-describedby', hintElement.id);
  return h('div', { class: 'field' }, h('label', { for: control.id }, label), control, hintElement);
}

/**
 * A table with a caption and column headers (`scope="col"`), one row per item.
 * @param {string} caption
 * @param {string[]} headers
 * @param {Array<Array<Node|string|number|null>>} rows
 */
export function table(caption, headers, rows) {
  // Explicit roles: some browsers drop a table's semantics once CSS lays its rows out as cards (phones).
  return h('div', { class: 'table-wrap' },
    h('table', { role: 'table' },
      h('caption', {}, caption),
      h('thead', { role: 'rowgroup' }, h('tr', { role: 'row' },
        ...headers.map((text) => h('th', { scope: 'col', role: 'columnheader' }, text)))),
      // Each cell names its column too: on a phone the rows become cards that show those names.
      h('tbody', { role: 'rowgroup' }, ...rows.map((cells) => h('tr', { role: 'row' },
        ...cells.map((cell, index) => h('td', { role: 'cell', 'data-label': headers[index] || null }, cell)))))));
}
