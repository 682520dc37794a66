// The family's path before the call: step order, the consent text's Markdown, the level meter's maths,
// what a getUserMedia failure means, and the quick exit's double Escape.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { FAMILY_TEXT } from '../../web/js/family-text.js';
import { loudness, rms, smooth, FLOOR_DB, RELEASE } from '../../web/js/family/level.js';
import { inlines, parseConsentText } from '../../web/js/family/markdown.js';
import { missingProblem, problemOf } from '../../web/js/family/media.js';
import { afterRefusal, linkProblem, nextStep, sessionTime, waitsForGuardian } from '../../web/js/family/steps.js';
import { ESCAPE_WINDOW_MS, isSecondPress } from '../../web/js/quick-exit.js';

const session = { planned_start: '2026-11-23T10:00:00+00:00', planned_end: '2026-11-23T11:00:00+00:00' };

/** A summary as POST /api/join/check answers it, for an adult (p1) with a child (c1) in their care. */
function summary({ own = false, child = false, minor = false, code = false, verified = false } = {}) {
  const steps = [{ participant: 'p1', first_name: 'Ana', kind: minor ? 'assent' : 'consent', audience: minor ? 'child' : 'adult', on_record: own }];
  if (!minor) steps.push({ participant: 'c1', first_name: 'Rita', kind: 'consent', audience: 'guardian', on_record: child });
  return {
    session,
    participant: { id: 'p1', first_name: 'Ana', language: 'pt', is_minor: minor },
    consent: { on_record: own && (!minor || child), steps },
    join_code_required: code,
    join_code_verified: verified,
  };
}

const visit = (answered = []) => ({ languageChosen: true, answered: new Set(answered) });

test('language comes first, then the join code, then consent, then the preview', () => {
  assert.deepEqual(nextStep(summary(), { languageChosen: false, answered: new Set() }), { name: 'language' });
  assert.deepEqual(nextStep(summary({ code: true }), visit()), { name: 'code' });
  const consent = nextStep(summary({ code: true, verified: true }), visit());
  assert.equal(consent.name, 'consent');
  assert.equal(consent.name === 'consent' && consent.step.participant, 'p1');
});

test('consent on record skips straight to the preview once each child was asked about', () => {
  const child = nextStep(summary({ own: true }), visit());
  assert.equal(child.name === 'consent' && child.step.audience, 'guardian');
  assert.deepEqual(nextStep(summary({ own: true }), visit(['c1'])), { name: 'preview' });
  assert.deepEqual(nextStep(summary({ own: true, child: true }), visit()), { name: 'preview' });
});

test("a child gives their own assent, and waits for a guardian's consent if it is missing", () => {
  const assent = nextStep(summary({ minor: true }), visit());
  assert.equal(assent.name === 'consent' && assent.step.kind, 'assent');
  assert.equal(waitsForGuardian(summary({ minor: true, own: true })), true);
  assert.equal(waitsForGuardian(summary({ minor: true, own: true, child: true })), false);
  assert.equal(waitsForGuardian(summary({ own: true })), false);
});

test("refusing one's own consent ends the path; refusing for a child does not", () => {
  const s = summary();
  assert.equal(afterRefusal(s, s.consent.steps[0]), 'stop');
  assert.equal(afterRefusal(s, s.consent.steps[1]), 'continue');
});

test('a dead link gets its own page, by status and problem code', () => {
  assert.equal(linkProblem(410, 'session-closed'), 'link-ended');
  assert.equal(linkProblem(410, 'link-revoked'), 'link-invalid');
  assert.equal(linkProblem(401, 'not-authenticated'), 'link-invalid');
  assert.equal(linkProblem(423, 'link-locked'), 'link-locked');
  assert.equal(linkProblem(422, 'invalid-field'), null);
});

test("the session's time reads as today, or as a date, in the person's language", () => {
  const today = sessionTime(session, 'pt', new Date('2026-11-23T09:00:00+00:00'), 'hoje');
  assert.equal(today.day, 'hoje');
  assert.match(today.start, /^\d\d:00$/);
  const later = sessionTime(session, 'en', new Date('2026-11-20T09:00:00+00:00'), 'today');
  assert.match(later.day, /23 November/);
});

test('the consent text becomes headings, paragraphs and lists, with bold runs and no markup', () => {
  const blocks = parseConsentText('# Title\n\n**Nothing is recorded.** No video\nis kept.\n\n- **One.** first\n  goes on\n- two <b>x</b>\n\nEnd.');
  assert.deepEqual(blocks, [
    { type: 'heading', text: 'Title' },
    { type: 'paragraph', inlines: [{ text: 'Nothing is recorded.', strong: true }, { text: ' No video is kept.', strong: false }] },
    { type: 'list', items: [[{ text: 'One.', strong: true }, { text: ' first goes on', strong: false }], [{ text: 'two <b>x</b>', strong: false }]] },
    { type: 'paragraph', inlines: [{ text: 'End.', strong: false }] },
  ]);
  assert.deepEqual(inlines('a **b'), [{ text: 'a **b', strong: false }]);
});

test('the level meter: silence is empty, full scale is full, speech in between; it falls slowly', () => {
  assert.equal(rms(new Uint8Array(64).fill(128)), 0);
  assert.equal(loudness(new Uint8Array(64).fill(128)), 0);
  const full = Uint8Array.from({ length: 64 }, (_, i) => (i % 2 ? 0 : 255));
  assert.ok(loudness(full) > 0.99);
  // A sine at a tenth of full scale: RMS 0.0707, about -23 dBFS, so a bit over half the bar.
  const speech = Uint8Array.from({ length: 1024 }, (_, i) => Math.round(128 + 12.8 * Math.sin((i / 16) * Math.PI)));
  const db = 20 * Math.log10(rms(speech));
  assert.ok(Math.abs(db - -23) < 1, `${db}`);
  assert.ok(Math.abs(loudness(speech) - (db - FLOOR_DB) / -FLOOR_DB) < 1e-9);
  assert.equal(smooth(0.2, 0.8), 0.8);
  assert.equal(smooth(0.8, 0), 0.8 * RELEASE);
  assert.equal(smooth(0.8, 0.75), 0.75);
});

test('a getUserMedia failure in the words of the fix it needs', () => {
  assert.equal(problemOf('NotAllowedError'), 'denied');
  assert.equal(problemOf('NotReadableError'), 'busy');
  assert.equal(problemOf('NotFoundError'), 'missing');
  assert.equal(missingProblem(true, true), null);
  assert.equal(missingProblem(true, false), 'no-camera');
  assert.equal(missingProblem(false, true), 'no-microphone');
  assert.equal(missingProblem(false, false), 'no-devices');
});

test('Escape twice within the window is a quick exit; far apart it is not', () => {
  assert.equal(isSecondPress(-Infinity, 0), false);
  assert.equal(isSecondPress(1000, 1000 + ESCAPE_WINDOW_MS), true);
  assert.equal(isSecondPress(1000, 1001 + ESCAPE_WINDOW_MS), false);
});

test('every word of the family path exists in both languages, with the same placeholders', () => {
  assert.deepEqual(Object.keys(FAMILY_TEXT.pt).sort(), Object.keys(FAMILY_TEXT.en).sort());
  for (const key of Object.keys(FAMILY_TEXT.en)) {
    const names = (text) => (text.match(/\{\w+\}/g) ?? []).sort();
    assert.deepEqual(names(FAMILY_TEXT.pt[key]), names(FAMILY_TEXT.en[key]), key);
    assert.ok(FAMILY_TEXT.pt[key].trim() && FAMILY_TEXT.en[key].trim(), key);
  }
});
