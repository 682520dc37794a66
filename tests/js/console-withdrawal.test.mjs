// Recording a withdrawal of consent from the console: the request's body and the words for each answer.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { TEXT } from '../../web/js/console/text.js';
import { NOTE_MAX, consentState, withdrawalBody, withdrawalOutcome, withdrawalProblem } from '../../web/js/console/withdrawal.js';

test('a typed note is sent trimmed, and an empty or blank one is left out', () => {
  assert.deepEqual(withdrawalBody('  Said so on the phone at 10:00.\n'), { body: { note: 'Said so on the phone at 10:00.' } });
  assert.deepEqual(withdrawalBody(''), { body: {} });
  assert.deepEqual(withdrawalBody(' \n\t '), { body: {} });
});

test('a note longer than the server keeps is refused before sending, one at the limit is sent', () => {
  assert.deepEqual(withdrawalBody('a'.repeat(NOTE_MAX + 1)), { problem: 'withdraw.note-too-long' });
  assert.deepEqual(withdrawalBody(`  ${'a'.repeat(NOTE_MAX)}  `), { body: { note: 'a'.repeat(NOTE_MAX) } });
});

test('the answer is told apart: withdrawn with or without a note, or nothing stood', () => {
  assert.equal(withdrawalOutcome({ withdrawn: 2, note: true }), 'withdraw.done-with-note');
  assert.equal(withdrawalOutcome({ withdrawn: 1, note: false }), 'withdraw.done');
  assert.equal(withdrawalOutcome({ withdrawn: 0, note: false }), 'withdraw.none-stood');
});

test('a 409 says no consent stands to add the note to; other problems keep the general words', () => {
  assert.equal(withdrawalProblem({ status: 409, code: 'conflict' }), 'withdraw.nothing-to-note');
  assert.equal(withdrawalProblem({ status: 422, code: 'invalid-field', field: 'note' }), 'withdraw.note-blank');
  assert.equal(withdrawalProblem({ status: 404, code: 'not-found' }), null);
  assert.equal(withdrawalProblem(null), null);
});

test('every key these rules name has words in both languages', () => {
  const keys = ['withdraw.note-too-long', 'withdraw.done-with-note', 'withdraw.done', 'withdraw.none-stood',
    'withdraw.nothing-to-note', 'withdraw.note-blank'];
  for (const language of /** @type {const} */ (['pt', 'en'])) {
    for (const key of keys) assert.ok(TEXT[language][key], `${language} lacks ${key}`);
  }
});

test('a member\'s consent state: standing first, then the newest withdrawal, then a refusal, else none', () => {
  const given = { participant_id: 'p1', given_at: '2026-11-01T10:00:00+00:00', withdrawn_at: null, text_version: '2026-10' };
  const withdrawn = { participant_id: 'p1', given_at: '2026-10-01T10:00:00+00:00', withdrawn_at: '2026-10-20T09:00:00+00:00', text_version: '2026-09' };
  const refusal = { participant_id: 'p2', refused_at: '2026-11-02T08:00:00+00:00', text_version: '2026-10' };
  assert.deepEqual(consentState('p1', [withdrawn, given], [refusal]), { state: 'given', at: given.given_at, version: '2026-10' });
  assert.deepEqual(consentState('p1', [withdrawn], []), { state: 'withdrawn', at: withdrawn.withdrawn_at, version: '2026-09' });
  assert.deepEqual(consentState('p2', [withdrawn, given], [refusal]), { state: 'refused', at: refusal.refused_at, version: '2026-10' });
  assert.deepEqual(consentState('p3', [withdrawn, given], [refusal]), { state: 'none', at: null, version: null });
});
