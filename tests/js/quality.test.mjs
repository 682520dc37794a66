// How a link steps down to audio only on a poor connection and back up when it recovers.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { QUALITY, assess, nextMode, sample } from '../../web/js/quality.js';

const start = { mode: 'full', streak: 0, last: 'unknown' };

/** @param {string[]} levels */
function run(levels, state = start) {
  const modes = [];
  for (const level of levels) {
    state = nextMode(state, level);
    modes.push(state.mode);
  }
  return modes;
}

test('assess: loss and round trip against the thresholds', () => {
  assert.equal(assess({ lossPermille: 0, rttMs: 20 }), 'good');
  assert.equal(assess({ lossPermille: QUALITY.poorLossPermille, rttMs: 20 }), 'poor');
  assert.equal(assess({ lossPermille: QUALITY.badLossPermille, rttMs: 20 }), 'bad');
  assert.equal(assess({ lossPermille: 0, rttMs: QUALITY.poorRttMs }), 'poor');
  assert.equal(assess({ lossPermille: null, rttMs: null }), 'unknown');
});

test('a poor moment changes nothing; three poor samples step down; sustained loss ends in audio only', () => {
  assert.deepEqual(run(['poor', 'poor', 'good', 'poor']), ['full', 'full', 'full', 'full']);
  assert.deepEqual(run(['poor', 'poor', 'poor']), ['full', 'full', 'reduced']);
  assert.deepEqual(run(['poor', 'poor', 'poor', 'poor', 'poor', 'poor']),
    ['full', 'full', 'reduced', 'reduced', 'reduced', 'audio-only']);
  assert.deepEqual(run(['bad', 'bad', 'bad']), ['full', 'full', 'audio-only']);
});

test('video comes back a step at a time after good samples; unknown ones change nothing', () => {
  const paused = { mode: 'audio-only', streak: 0, last: 'unknown' };
  assert.deepEqual(run(['good', 'unknown', 'good', 'good', 'good', 'good', 'good'], paused),
    ['audio-only', 'audio-only', 'audio-only', 'reduced', 'reduced', 'reduced', 'full']);
});

test('sample: the worst of loss out (reported by the far end) and loss in', () => {
  const before = { sent: 100, lostOut: 0, received: 100, lostIn: 0, rttMs: 10 };
  assert.deepEqual(sample(before, { sent: 200, lostOut: 20, received: 195, lostIn: 5, rttMs: 30 }),
    { lossPermille: 200, rttMs: 30 });
  assert.deepEqual(sample(before, before), { lossPermille: null, rttMs: null });
  assert.deepEqual(sample(before, { ...before, sent: 110, lostOut: 5 }).lossPermille, null, 'too few packets to judge');
});
