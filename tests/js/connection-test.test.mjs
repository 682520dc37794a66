// The connection test's verdict on its figures, at and around each documented threshold.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { THRESHOLDS, median, verdict } from '../../web/js/connection-test.js';

const clean = { connected: true, connectMs: 150, rttMs: 30, lossPermille: 0, pingLossPermille: 0, jitterMs: 5, kbps: 400 };

test('a clean link is good', () => {
  assert.equal(verdict(clean), 'good');
});

test('no media connection, no ping back, or half the pings lost each way is no connection', () => {
  assert.equal(verdict({ ...clean, connected: false }), 'no-connection');
  assert.equal(verdict({ ...clean, rttMs: null }), 'no-connection');
  const pingLoss = THRESHOLDS.noConnectionPingLossPermille;
  assert.equal(verdict({ ...clean, pingLossPermille: pingLoss, lossPermille: pingLoss }), 'no-connection');
});

test('video lost to a narrow link alone is audio only, not no connection', () => {
  assert.equal(verdict({ ...clean, lossPermille: 900, pingLossPermille: 100, kbps: 60 }), 'audio-only');
});

test('loss, round trip, jitter or bitrate past their thresholds means audio only', () => {
  assert.equal(verdict({ ...clean, lossPermille: THRESHOLDS.audioOnlyLossPermille - 1 }), 'good');
  assert.equal(verdict({ ...clean, lossPermille: THRESHOLDS.audioOnlyLossPermille }), 'audio-only');
  assert.equal(verdict({ ...clean, rttMs: THRESHOLDS.audioOnlyRttMs }), 'audio-only');
  assert.equal(verdict({ ...clean, jitterMs: THRESHOLDS.audioOnlyJitterMs }), 'audio-only');
  assert.equal(verdict({ ...clean, kbps: THRESHOLDS.audioOnlyMinKbps - 1 }), 'audio-only');
  assert.equal(verdict({ ...clean, connectMs: THRESHOLDS.audioOnlyConnectMs }), 'audio-only');
});

test('a test without video figures is judged on pings alone', () => {
  assert.equal(verdict({ ...clean, jitterMs: null, kbps: null }), 'good');
});

test('median', () => {
  assert.equal(median([]), null);
  assert.equal(median([3, 1, 2]), 2);
  assert.equal(median([4, 1, 2, 3]), 2.5);
});
