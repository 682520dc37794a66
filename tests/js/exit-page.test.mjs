// The quick exit's blank page takes the title a blank tab has in the browser's language.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { blankTab } from '../../web/js/exit-page.js';

test('a Portuguese browser gets a Portuguese blank tab, Brazilian where the word differs', () => {
  assert.deepEqual(blankTab(['pt-PT', 'en']), { lang: 'pt', title: 'Novo separador' });
  assert.deepEqual(blankTab(['pt']), { lang: 'pt', title: 'Novo separador' });
  assert.deepEqual(blankTab(['pt-BR']), { lang: 'pt-br', title: 'Nova guia' });
});

test('English and any language without a known title get the English one', () => {
  assert.deepEqual(blankTab(['en-GB']), { lang: 'en', title: 'New Tab' });
  assert.deepEqual(blankTab(['uk-UA']), { lang: 'en', title: 'New Tab' });
  assert.deepEqual(blankTab([]), { lang: 'en', title: 'New Tab' });
});
