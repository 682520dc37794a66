// The connection test: its verdict at and around each documented threshold, when a page runs it, and a whole run against fakes of the wire.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { THRESHOLDS, median, pingLossPermille, runConnectionTest, selectedRoute, testsNow, verdict } from '../../web/js/connection-test.js';

const clean = { connected: true, connectMs: 150, rttMs: 30, lossPermille: 0, pingLossPermille: 0, jitterMs: 5, kbps: 400 };

test('ping loss counts pings still within their time on the way as neither lost nor back', () => {
  const sent = new Map([[1, 0], [2, 100], [3, 200], [4, 4800], [5, 4900]]);
  // A second of queue: 1 came back, 2 and 3 are overdue, 4 and 5 were sent too recently to tell.
  assert.equal(pingLossPermille(sent, new Set([1]), 5000, 2000), Math.round((1 - Math.sqrt(1 / 3)) * 1000));
  // Once their time is up, the missing ones count as lost.
  assert.equal(pingLossPermille(sent, new Set([1]), 7000, 2000), Math.round((1 - Math.sqrt(1 / 5)) * 1000));
  assert.equal(pingLossPermille(sent, new Set([1, 2, 3, 4, 5]), 5000, 2000), 0);
  assert.equal(pingLossPermille(sent, new Set(), 9000, 300), 1000);
  assert.equal(pingLossPermille(new Map(), new Set(), 9000, 300), 1000);
});

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

// --- when a page tests, and which path it took ------------------------------------------------

test('a page tests once: while waiting, or staff arriving in a call nobody else is in', () => {
  assert.equal(testsNow({ tested: false, event: 'waiting', role: 'family', othersInCall: 0 }), true);
  assert.equal(testsNow({ tested: false, event: 'admitted', role: 'host', othersInCall: 0 }), true);
  assert.equal(testsNow({ tested: false, event: 'admitted', role: 'staff', othersInCall: 0 }), true);
  assert.equal(testsNow({ tested: false, event: 'admitted', role: 'host', othersInCall: 1 }), false);
  assert.equal(testsNow({ tested: false, event: 'admitted', role: 'family', othersInCall: 0 }), false);
  assert.equal(testsNow({ tested: true, event: 'waiting', role: 'family', othersInCall: 0 }), false);
  assert.equal(testsNow({ tested: true, event: 'admitted', role: 'host', othersInCall: 0 }), false);
});

/** A getStats report (a Map, as browsers give) with one selected pair between these candidate types. */
function reportWithPair(local, remote, { viaTransport = true } = {}) {
  const entries = [
    { id: 'L1', type: 'local-candidate', candidateType: local },
    { id: 'R1', type: 'remote-candidate', candidateType: remote },
    { id: 'L0', type: 'local-candidate', candidateType: 'host' },
    { id: 'P0', type: 'candidate-pair', localCandidateId: 'L0', remoteCandidateId: 'R1', state: 'failed' },
    { id: 'P1', type: 'candidate-pair', localCandidateId: 'L1', remoteCandidateId: 'R1', state: 'succeeded',
      ...(viaTransport ? {} : { selected: true }) },
  ];
  if (viaTransport) entries.push({ id: 'T1', type: 'transport', selectedCandidatePairId: 'P1' });
  return new Map(entries.map((entry) => [entry.id, entry]));
}

test('the route is the selected pair, from the transport or from the pair itself', () => {
  assert.deepEqual(selectedRoute(reportWithPair('relay', 'relay')), { local: 'relay', remote: 'relay' });
  assert.deepEqual(selectedRoute(reportWithPair('host', 'host', { viaTransport: false })), { local: 'host', remote: 'host' });
  assert.equal(selectedRoute(new Map()), null);
});

// --- a whole test against fakes of the wire: the peer connection and fetch ------------------------

/**
 * A peer connection that connects at once (unless told not to) and echoes every ping, except those sent
 * before `deafUntil` on the clock `now`: a probe whose side of the handshake is not done yet.
 */
function fakePeerConnection({ connects = true, route = ['relay', 'relay'], deafUntil = 0, now = () => 0 } = {}) {
  const made = [];
  class FakePeerConnection {
    constructor(configuration) {
      this.configuration = configuration;
      this.iceGatheringState = 'complete';
      this.connectionState = 'new';
      this.localDescription = null;
      this.closed = false;
      made.push(this);
    }
    addTransceiver() {}
    createDataChannel(label, options) {
      this.channelOptions = options;
      this.channel = {
        readyState: 'connecting',
        onmessage: null,
        send: (data) => {
          if (now() >= deafUntil) queueMicrotask(() => this.channel.onmessage?.({ data }));
        },
      };
      return this.channel;
    }
    async createOffer() { return { type: 'offer', sdp: 'v=0 offer' }; }
    async setLocalDescription(description) { this.localDescription = description; }
    async setRemoteDescription() {
      if (!connects) return;
      this.connectionState = 'connected';
      this.channel.readyState = 'open';
    }
    async getStats() { return reportWithPair(...route); }
    close() { this.closed = true; }
  }
  return { FakePeerConnection, made };
}

function fakeFetch() {
  const posted = [];
  const fetch = async (url, init) => {
    posted.push({ path: new URL(url).pathname, body: JSON.parse(init.body) });
    const body = url.endsWith('/api/probe') ? { probe: 'probe-1', sdp: 'v=0 answer' } : { id: 'row-1' };
    return { ok: true, status: 200, json: async () => body };
  };
  return { fetch, posted };
}

/** A clock that only moves when the test sleeps, so a 1 s test takes no time. */
function fakeTime(onSleep = () => {}) {
  let at = 0;
  return { now: () => at, sleep: async (ms) => { at += ms; onSleep(at); await Promise.resolve(); } };
}

const TURN = { urls: ['turn:turn.example.test:3478?transport=udp'], username: '1800000600:p1', credential: 'c' };

test('the test offers with the ICE servers it is given and keeps a good result over the relay', async () => {
  const { FakePeerConnection, made } = fakePeerConnection();
  const { fetch, posted } = fakeFetch();
  const result = await runConnectionTest({
    origin: 'https://tp.example', token: 't', session: 's1', seconds: 1, iceServers: [TURN],
    fetch, PeerConnection: FakePeerConnection, ...fakeTime(),
  });
  assert.deepEqual(made[0].configuration, { iceServers: [TURN] });
  // The ping channel the server's probe made on its side (PING_CHANNEL_ID in telepractice/signaling/probe.py).
  assert.deepEqual(made[0].channelOptions, { negotiated: true, id: 0, ordered: false, maxRetransmits: 0 });
  assert.equal(result.verdict, 'good');
  assert.deepEqual(result.route, { local: 'relay', remote: 'relay' });
  assert.equal(result.stopped, false);
  assert.deepEqual(posted.map((call) => call.path), ['/api/probe', '/api/probe/result']);
  assert.deepEqual(posted[0].body, { sdp: 'v=0 offer', session: 's1' });
  assert.equal(posted[1].body.probe, 'probe-1');
  assert.equal(posted[1].body.verdict, 'good');
  assert.equal(made[0].closed, true);
});

test('pings sent before the probe can answer count as connecting, not as loss', async () => {
  const time = fakeTime();
  const { FakePeerConnection } = fakePeerConnection({ deafUntil: 3000, now: time.now });
  const { fetch } = fakeFetch();
  const result = await runConnectionTest({
    origin: 'https://tp.example', token: 't', seconds: 1, fetch, PeerConnection: FakePeerConnection, ...time,
  });
  assert.equal(result.stats.connected, true);
  assert.ok(result.stats.connectMs >= 3000 && result.stats.connectMs <= 3100, String(result.stats.connectMs));
  assert.equal(result.stats.pingLossPermille, 0);
  assert.equal(result.verdict, 'audio-only'); // the handshake took 3 s: the link lost its packets
});

test('a probe that never answers a ping is no connection', async () => {
  const time = fakeTime();
  const { FakePeerConnection } = fakePeerConnection({ deafUntil: Infinity, now: time.now });
  const { fetch, posted } = fakeFetch();
  const result = await runConnectionTest({
    origin: 'https://tp.example', token: 't', seconds: 1, fetch, PeerConnection: FakePeerConnection, ...time,
  });
  assert.deepEqual([result.stats.connected, result.stats.connectMs, result.verdict], [false, null, 'no-connection']);
  assert.equal(posted[1].body.verdict, 'no-connection');
});

test('a test stopped while connecting keeps nothing and gives no verdict to show', async () => {
  const { FakePeerConnection, made } = fakePeerConnection({ connects: false });
  const { fetch, posted } = fakeFetch();
  const stop = new AbortController();
  const result = await runConnectionTest({
    origin: 'https://tp.example', token: 't', seconds: 1, fetch, PeerConnection: FakePeerConnection,
    ...fakeTime((at) => { if (at >= 500) stop.abort(); }), signal: stop.signal,
  });
  assert.equal(result.stopped, true);
  assert.equal(result.probe, 'probe-1');
  assert.deepEqual(posted.map((call) => call.path), ['/api/probe']); // no result kept
  assert.equal(made[0].closed, true);
});

test('a test stopped while measuring keeps nothing either', async () => {
  const { FakePeerConnection } = fakePeerConnection();
  const { fetch, posted } = fakeFetch();
  const stop = new AbortController();
  const result = await runConnectionTest({
    origin: 'https://tp.example', token: 't', seconds: 5, fetch, PeerConnection: FakePeerConnection,
    ...fakeTime((at) => { if (at >= 1000) stop.abort(); }), signal: stop.signal,
  });
  assert.equal(result.stopped, true);
  assert.deepEqual(posted.map((call) => call.path), ['/api/probe']);
});

test('a test stopped before it starts opens no connection and asks nothing of the server', async () => {
  const { FakePeerConnection, made } = fakePeerConnection();
  const { fetch, posted } = fakeFetch();
  const stop = new AbortController();
  stop.abort();
  const result = await runConnectionTest({
    origin: 'https://tp.example', token: 't', fetch, PeerConnection: FakePeerConnection, ...fakeTime(),
    signal: stop.signal,
  });
  assert.equal(result.stopped, true);
  assert.deepEqual([made.length, posted.length], [0, 0]);
});
