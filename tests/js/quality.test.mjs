// How a link steps down to audio only on a poor connection and back up when it recovers.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { QUALITY, QualityWatch, assess, nextMode, sample } from '../../web/js/quality.js';

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

/** A link whose getStats reports `loss` (0 to 1) of what it sent and received, 100 packets a tick each way. */
function fakeLink(remoteId, loss = 0) {
  let packets = 0;
  const sender = {
    track: { kind: 'video' },
    async replaceTrack(track) { this.track = track; },
    getParameters: () => ({ encodings: [{}] }),
    async setParameters() {},
  };
  const pc = {
    iceConnectionState: 'connected',
    async getStats() {
      packets += 100;
      const lost = Math.round(packets * loss);
      return new Map([
        ['out', { type: 'outbound-rtp', packetsSent: packets }],
        ['remote', { type: 'remote-inbound-rtp', packetsLost: lost }],
        ['in', { type: 'inbound-rtp', packetsReceived: packets - lost, packetsLost: lost }],
        ['pair', { type: 'candidate-pair', nominated: true, state: 'succeeded', currentRoundTripTime: 0.02 }],
      ]);
    },
  };
  return { remoteId, pc, cameraSender: sender, closed: false };
}

function watchOf(...links) {
  const camera = { kind: 'video' };
  const call = {
    peers: new Map(links.map((link) => [link.remoteId, link])),
    localStream: { getVideoTracks: () => [camera] },
    maxKbps: null,
    on: () => () => {},
  };
  const timers = { setInterval: () => 0, clearInterval: () => {}, now: () => 0 };
  const watch = new QualityWatch({ call, timers });
  const told = [];
  watch.on('audio-only', (paused) => told.push(paused));
  return { watch, told, camera };
}

test('a connection test that advises audio only before the call has samples starts it without video', async () => {
  const link = fakeLink('worker');
  const { watch, told } = watchOf(link);
  await watch.tick(); // the first reading: nothing judged yet
  assert.equal(watch.startAudioOnly(), true);
  await watch.tick();
  assert.deepEqual([watch.modes(), told, link.cameraSender.track], [{ worker: 'audio-only' }, [true], null]);
});

test('advice that comes after the call has judged its own link is dropped: video keeps going', async () => {
  // As after a cut: the waiting-room test ran through it and its verdict landed once the link was back.
  const link = fakeLink('worker');
  const { watch, told, camera } = watchOf(link);
  await watch.tick();
  await watch.tick(); // judged good
  assert.equal(watch.startAudioOnly(), false);
  await watch.tick();
  assert.deepEqual([watch.modes(), watch.audioOnly, told, link.cameraSender.track],
    [{ worker: 'full' }, false, [], camera]);
  assert.equal(watch.startMode, 'full', 'a participant who joins later starts with video too');
});

test('the watch reports what it made of every sample', async () => {
  const link = fakeLink('worker', 0.05);
  const { watch } = watchOf(link);
  const seen = [];
  watch.on('assessed', (value) => seen.push(value));
  await watch.tick();
  await watch.tick();
  assert.deepEqual(seen, [{ peer: 'worker', lossPermille: 50, rttMs: 20, level: 'poor', mode: 'full' }]);
});
