// The signalling client against a fake socket and fake timers: hello, ping, reconnection, back-off.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import * as protocol from '../../web/js/protocol.js';
import { SignalingClient, backoffDelay, parse, shouldReconnect, signalingUrl } from '../../web/js/protocol.js';

class FakeSocket {
  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.closedWith = null;
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close(code, reason) { this.closedWith = { code, reason }; this.readyState = 3; }
  // What the server does:
  open() { this.readyState = 1; this.onopen?.({}); }
  deliver(message) { this.onmessage?.({ data: JSON.stringify({ v: 1, ...message }) }); }
  drop(code = 1006, reason = '') { this.readyState = 3; this.onclose?.({ code, reason }); }
}

class FakeTimers {
  constructor() { this.time = 0; this.pending = []; this.nextId = 1; }
  now() { return this.time; }
  setTimeout(fn, ms) { const id = this.nextId++; this.pending.push({ id, at: this.time + ms, fn }); return id; }
  clearTimeout(id) { this.pending = this.pending.filter((timer) => timer.id !== id); }
  setInterval(fn, ms) {
    const id = this.nextId++;
    const tick = () => { fn(); this.pending.push({ id, at: this.time + ms, fn: tick }); };
    this.pending.push({ id, at: this.time + ms, fn: tick });
    return id;
  }
  clearInterval(id) { this.clearTimeout(id); }
  advance(ms) {
    const end = this.time + ms;
    for (;;) {
      this.pending.sort((a, b) => a.at - b.at);
      const next = this.pending[0];
      if (!next || next.at > end) break;
      this.pending.shift();
      this.time = next.at;
      next.fn();
    }
    this.time = end;
  }
}

function makeClient() {
  const sockets = [];
  const timers = new FakeTimers();
  const client = new SignalingClient({
    url: 'wss://example.test/ws', token: 'join-token', timers, random: () => 0,
    openSocket: (url) => { const socket = new FakeSocket(url); sockets.push(socket); return socket; },
  });
  return { client, sockets, timers };
}

const WELCOME = { type: 'welcome', you: { id: 'p1' }, room: 's1', limits: {}, resume: 'resume-token' };

test('hello with the link token is the first message on a new socket', () => {
  const { client, sockets } = makeClient();
  client.start();
  sockets[0].open();
  assert.deepEqual(sockets[0].sent, [{ v: 1, type: 'hello', token: 'join-token' }]);
});

test('a ping from the server is answered with a pong of the same nonce', () => {
  const { client, sockets } = makeClient();
  client.start();
  sockets[0].open();
  sockets[0].deliver({ type: 'ping', nonce: 42 });
  assert.deepEqual(sockets[0].sent.at(-1), { v: 1, type: 'pong', nonce: 42 });
});

test('a dropped socket comes back after the back-off, with the resume token', () => {
  const { client, sockets, timers } = makeClient();
  const states = [];
  client.on('state', (state) => states.push(state));
  client.start();
  sockets[0].open();
  sockets[0].deliver(WELCOME);
  assert.equal(client.state, 'joined');
  sockets[0].drop(1006);
  assert.equal(client.state, 'reconnecting');
  assert.equal(sockets.length, 1, 'not before the back-off');
  timers.advance(backoffDelay(0, protocol.DEFAULT_BACKOFF, 0));
  assert.equal(sockets.length, 2);
  sockets[1].open();
  assert.deepEqual(sockets[1].sent[0], { v: 1, type: 'hello', token: 'resume-token' });
  sockets[1].deliver(WELCOME);
  assert.deepEqual(states, ['connecting', 'joined', 'reconnecting', 'joined']);
});

test('the back-off doubles up to its ceiling and resets after a welcome', () => {
  const backoff = { baseMs: 250, maxMs: 10_000 };
  assert.deepEqual([0, 1, 2, 3, 10].map((n) => backoffDelay(n, backoff, 0.999999)), [250, 500, 1000, 2000, 10_000]);
  assert.equal(backoffDelay(0, backoff, 0), 125);
  const { client, sockets, timers } = makeClient();
  client.start();
  sockets[0].drop();
  timers.advance(125);
  sockets[1].drop();
  assert.equal(client.attempt, 2);
  timers.advance(250);
  sockets[2].open();
  sockets[2].deliver(WELCOME);
  assert.equal(client.attempt, 0);
});

test('no reconnection after being turned away, replaced, removed or the end of the session', () => {
  for (const [type, code] of [['turned-away', 4010], ['replaced', 4009], ['session-ended', 4000]]) {
    const { client, sockets, timers } = makeClient();
    const closes = [];
    client.on('closed', (event) => closes.push(event));
    client.start();
    sockets[0].open();
    sockets[0].deliver(type === 'session-ended' ? { type, reason: 'ended-by-host' } : { type });
    sockets[0].drop(code);
    timers.advance(60_000);
    assert.equal(sockets.length, 1, type);
    assert.equal(client.state, 'closed');
    assert.deepEqual(closes, [{ code, reason: '', final: true }]);
  }
});

test('leave sends leave and never reconnects', () => {
  const { client, sockets, timers } = makeClient();
  client.start();
  sockets[0].open();
  client.leave();
  assert.deepEqual(sockets[0].sent.at(-1), { v: 1, type: 'leave' });
  assert.equal(sockets[0].closedWith.code, 1000);
  timers.advance(60_000);
  assert.equal(sockets.length, 1);
});

test('a refused resume token is dropped and the link token tried again', () => {
  const { client, sockets, timers } = makeClient();
  client.start();
  sockets[0].open();
  sockets[0].deliver(WELCOME);
  sockets[0].drop(1006);
  timers.advance(1000);
  sockets[1].open();
  assert.equal(sockets[1].sent[0].token, 'resume-token');
  sockets[1].drop(4001);
  timers.advance(1000);
  sockets[2].open();
  assert.equal(sockets[2].sent[0].token, 'join-token');
  sockets[2].drop(4001);
  timers.advance(60_000);
  assert.equal(sockets.length, 3, 'the link token refused is final');
});

test('a silent server is pinged, then given up on and replaced by a new socket', () => {
  const { client, sockets, timers } = makeClient();
  client.start();
  sockets[0].open();
  sockets[0].deliver(WELCOME);
  timers.advance(protocol.PING_AFTER_SILENCE_MS + 1000);
  assert.equal(sockets[0].sent.at(-1).type, 'ping');
  timers.advance(protocol.SILENCE_TIMEOUT_MS);
  assert.ok(sockets[0].closedWith, 'the silent socket is closed');
  assert.ok(sockets.length >= 2, 'and another opened');
});

test('messages are emitted by type; frames off the protocol are reported, not emitted', () => {
  const { client, sockets } = makeClient();
  const offers = [];
  const problems = [];
  client.on('offer', (message) => offers.push(message));
  client.on('protocol-error', (error) => problems.push(error));
  client.start();
  sockets[0].open();
  sockets[0].deliver({ type: 'offer', from: 'p2', sdp: 'v=0' });
  sockets[0].onmessage({ data: '{"v":1,"type":"offer","from":7}' });
  sockets[0].onmessage({ data: 'not json' });
  assert.equal(offers.length, 1);
  assert.equal(problems.length, 2);
});

test('send refuses when no socket is open', () => {
  const { client, sockets } = makeClient();
  client.start();
  assert.equal(client.send(protocol.ping(1)), false);
  sockets[0].open();
  assert.equal(client.send(protocol.ping(1)), true);
});

test('outgoing messages have the protocol fields and nothing else', () => {
  assert.deepEqual(protocol.candidate('p2', null),
    { v: 1, type: 'candidate', to: 'p2', candidate: '', sdp_mid: null, sdp_mline_index: null, username_fragment: null });
  assert.deepEqual(protocol.candidate('p2', { candidate: 'candidate:1', sdpMid: '0', sdpMLineIndex: 0, usernameFragment: 'u' }),
    { v: 1, type: 'candidate', to: 'p2', candidate: 'candidate:1', sdp_mid: '0', sdp_mline_index: 0, username_fragment: 'u' });
  assert.deepEqual(protocol.mediaState({ audio: true, video: false }), { v: 1, type: 'media-state', audio: true, video: false, screen: false });
  assert.deepEqual(protocol.sideRoomMove('p2', 'side-1'), { v: 1, type: 'side-room-move', participant: 'p2', side_room: 'side-1' });
  assert.deepEqual(protocol.endSession(), { v: 1, type: 'end-session' });
});

test('parse refuses other versions and unknown types', () => {
  assert.throws(() => parse('{"v":2,"type":"ping","nonce":1}'), protocol.ProtocolError);
  assert.throws(() => parse('{"v":1,"type":"surprise"}'), protocol.ProtocolError);
  assert.throws(() => parse('[1]'), protocol.ProtocolError);
  assert.equal(parse('{"v":1,"type":"ping","nonce":1}').nonce, 1);
});

test('reconnection is decided by the close code', () => {
  const context = { leaving: false, usedResumeToken: false };
  for (const code of [1001, 1006, 1011, 4008, 4029, 1000]) assert.equal(shouldReconnect(code, context), true, String(code));
  for (const code of [4000, 4001, 4002, 4003, 4009, 4010, 4011, 1007, 1009]) assert.equal(shouldReconnect(code, context), false, String(code));
  assert.equal(shouldReconnect(4001, { leaving: false, usedResumeToken: true }), true);
  assert.equal(shouldReconnect(1006, { leaving: true, usedResumeToken: false }), false);
});

test('staff name their session in the signalling URL', () => {
  assert.equal(signalingUrl('https://example.test:8443', 's-1'), 'wss://example.test:8443/ws?session=s-1');
  assert.equal(signalingUrl('https://example.test'), 'wss://example.test/ws');
});

test('a resume token kept from an earlier page load is tried first; new ones are announced', () => {
  const sockets = [];
  const client = new SignalingClient({
    url: 'wss://example.test/ws', token: 'join-token', resumeToken: 'kept', timers: new FakeTimers(), random: () => 0,
    openSocket: (url) => { const socket = new FakeSocket(url); sockets.push(socket); return socket; },
  });
  const announced = [];
  client.on('resume-token', (token) => announced.push(token));
  client.start();
  sockets[0].open();
  assert.equal(sockets[0].sent[0].token, 'kept');
  sockets[0].deliver(WELCOME);
  sockets[0].deliver(WELCOME);
  assert.deepEqual(announced, ['resume-token']);
});
