// SignalingClient.freshIceServers: ask for new TURN credentials before an ICE restart, never wait forever.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { ICE_SERVERS_TIMEOUT_MS, SignalingClient, iceServers, parse } from '../../web/js/protocol.js';

class FakeSocket {
  constructor() { this.readyState = 0; this.sent = []; this.onopen = this.onmessage = this.onclose = this.onerror = null; }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.({}); }
  deliver(message) { this.onmessage?.({ data: JSON.stringify({ v: 1, ...message }) }); }
  drop(code = 1006) { this.readyState = 3; this.onclose?.({ code, reason: '' }); }
}

class FakeTimers {
  constructor() { this.time = 0; this.pending = []; this.nextId = 1; }
  now() { return this.time; }
  setTimeout(fn, ms) { const id = this.nextId++; this.pending.push({ id, at: this.time + ms, fn }); return id; }
  clearTimeout(id) { this.pending = this.pending.filter((timer) => timer.id !== id); }
  setInterval() { return 0; }
  clearInterval() {}
  advance(ms) {
    this.time += ms;
    for (const timer of this.pending.filter((t) => t.at <= this.time)) { this.clearTimeout(timer.id); timer.fn(); }
  }
}

function joined() {
  const sockets = [];
  const timers = new FakeTimers();
  const client = new SignalingClient({
    url: 'wss://example.test/ws', token: 'join-token', timers, random: () => 0,
    openSocket: () => { const socket = new FakeSocket(); sockets.push(socket); return socket; },
  });
  client.start();
  sockets[0].open();
  sockets[0].deliver({ type: 'welcome', you: { id: 'p1' }, room: 's1', limits: {} });
  return { client, socket: sockets[0], timers };
}

const TURN = { urls: ['turn:turn.example.test:3478'], username: '1800000600:p1', credential: 'c2VjcmV0' };

test('iceServers builds the request the server documents, with no fields', () => {
  assert.deepEqual(iceServers(), { v: 1, type: 'ice-servers' });
});

test('the answer is parsed only with its list of servers', () => {
  assert.equal(parse(JSON.stringify({ v: 1, type: 'ice-servers', ice_servers: [], expires_at: null })).type,
    'ice-servers');
  assert.throws(() => parse(JSON.stringify({ v: 1, type: 'ice-servers' })), /needs ice_servers as array/);
});

test('fresh servers arrive with their expiry in milliseconds', async () => {
  const { client, socket } = joined();
  const asked = client.freshIceServers();
  assert.deepEqual(socket.sent.at(-1), { v: 1, type: 'ice-servers' });
  socket.deliver({ type: 'ice-servers', ice_servers: [TURN], expires_at: 1_800_000_600 });
  assert.deepEqual(await asked, { iceServers: [TURN], expiresAt: 1_800_000_600_000 });
});

test('without TURN the answer is an empty list and no expiry', async () => {
  const { client, socket } = joined();
  const asked = client.freshIceServers();
  socket.deliver({ type: 'ice-servers', ice_servers: [], expires_at: null });
  assert.deepEqual(await asked, { iceServers: [], expiresAt: null });
});

test('a refusal of this request gives null, another error does not', async () => {
  const { client, socket } = joined();
  const asked = client.freshIceServers();
  let settled = false;
  asked.then(() => { settled = true; });
  socket.deliver({ type: 'error', code: 'peer-unavailable', refused: 'offer' });
  await Promise.resolve();
  assert.equal(settled, false);
  socket.deliver({ type: 'error', code: 'rate-limited', refused: 'ice-servers', retry_after: 9.5 });
  assert.equal(await asked, null);
});

test('no answer in time, a closed socket, or no socket at all give null, and nothing is left waiting', async () => {
  const { client, socket, timers } = joined();
  const slow = client.freshIceServers();
  timers.advance(ICE_SERVERS_TIMEOUT_MS - 1);
  socket.deliver({ type: 'ping', nonce: 1 });  // the socket is alive, only this answer is slow
  timers.advance(1);
  assert.equal(await slow, null);
  socket.deliver({ type: 'ice-servers', ice_servers: [TURN], expires_at: 1 });  // late: changes nothing
  assert.equal(client.socket, socket, 'a socket that still hears the server is kept');

  const cut = client.freshIceServers();
  socket.drop();
  assert.equal(await cut, null);
  const answerDue = timers.time + ICE_SERVERS_TIMEOUT_MS;
  assert.equal(timers.pending.filter((t) => t.at === answerDue).length, 0, 'the answer timer was cleared');

  client.stop();
  assert.equal(await client.freshIceServers(), null);
});

test('a socket that hears nothing at all while asking is given up at once and another opened', async () => {
  const sockets = [];
  const timers = new FakeTimers();
  const client = new SignalingClient({
    url: 'wss://example.test/ws', token: 'join-token', timers, random: () => 0,
    openSocket: () => { const socket = new FakeSocket(); sockets.push(socket); return socket; },
  });
  const closes = [];
  client.on('closed', (closed) => closes.push(closed));
  client.start();
  sockets[0].open();
  sockets[0].deliver({ type: 'welcome', you: { id: 'p1' }, room: 's1', limits: {}, resume: 'resume-token' });
  timers.advance(1000);
  // The network changed: the old socket's packets go nowhere, and no close event comes.
  const asked = client.freshIceServers();
  timers.advance(ICE_SERVERS_TIMEOUT_MS);
  assert.equal(await asked, null);
  assert.deepEqual(closes, [{ code: 4008, reason: 'no-answer', final: false }]);
  assert.equal(sockets[0].readyState, 3, 'the dead socket is closed');
  assert.equal(client.state, 'reconnecting');
  timers.advance(1000);  // the first back-off delay: 125-250 ms
  assert.equal(sockets.length, 2, 'a new socket was opened well before the 20 s silence timeout would have');
  sockets[1].open();
  assert.deepEqual(sockets[1].sent[0], { v: 1, type: 'hello', token: 'resume-token' });
});
