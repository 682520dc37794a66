// @ts-check
/**
 * The last page of the family's path (web/goodbye.html): thank you, what happens next, and
 * nothing else to do. The call's credentials are forgotten here, so no reload or Back leads
 * into the call again.
 */

import { storeCredentials } from '../credentials.js';
import { el, frame, showStep, t } from './ui.js';

storeCredentials(null);

function draw() {
  showStep('goodbye', t('goodbyeTitle'),
    el('p', { className: 'lead', textContent: t('goodbyeText') }),
    el('p', { textContent: t('goodbyeNext') }),
    el('p', { textContent: t('goodbyeClose') }));
}

frame(draw);
draw();
