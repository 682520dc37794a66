// An ICE restart in the call (call.js) first asks the server for fresh TURN credentials (ice-servers).
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Call } from '../../web/js/call.js';
import { SignalingClient } from '../../web/js/protocol.js';

class FakeSocket {
  constructor() { this.readyState = 0; this.sent = []; this.onopen = this.onmessage = this.onclose = this.onerror = null; }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() { this.readyState = 3; }
  open() { this.readyState = 1; this.onopen?.({}); }
  deliver(message) { this.onmessage?.({ data: JSON.stringify({ v: 1, ...message }) }); }
}

const timers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms), clearTimeout: (id) => clearTimeout(id),
  setInterval: () => 0, clearInterval: () => {}, now: () => Date.now(),
};

/** Enough of RTCPeerConnection for a restart: its configuration, and whether restartIce reached it. */
class FakePeerConnection {
  static made = [];
  constructor(configuration) {
    this.configuration = configuration;
    this.signalingState = 'stable';
    this.connectionState = 'new';
    this.restarts = [];
    FakePeerConnection.made.push(this);
  }
  addTrack(track) { return { track, getParameters: () => ({ encodings: [{}] }), async setParameters() {} }; }
  addTransceiver() { return { sender: this.addTrack(null) }; }
  getSenders() { return []; }
  getTransceivers() { return []; }
  getConfiguration() { return { ...this.configuration }; }
  setConfiguration(configuration) { this.configuration = configuration; }
  restartIce() { this.restarts.push(this.configuration.iceServers); }
  async setLocalDescription() {}
  close() {}
}

const OLD = [{ urls: ['turn:turn.example.test:3478'], username: '1800000000:p1', credential: 'old' }];
const FRESH = [{ urls: ['turn:turn.example.test:3478'], username: '1800003600:p1', credential: 'fresh' }];
const person = (id) => ({ id, name: id, role: 'family', is_minor: false, audio: true, video: true, screen: false,
  side_room: null, connected: true });
const settle = () => new Promise((resolve) => setImmediate(resolve));

function inCall() {
  FakePeerConnection.made = [];
  const socket = new FakeSocket();
  const client = new SignalingClient({ url: 'wss://example.test/ws', token: 't', timers, openSocket: () => socket });
  const call = new Call({
    client, PeerConnection: FakePeerConnection,
    localStream: { getAudioTracks: () => [{ kind: 'audio' }], getVideoTracks: () => [{ kind: 'video' }] },
  });
  client.start();
  socket.open();
  socket.deliver({ type: 'welcome', you: person('p1'), room: 's', limits: {} });
  socket.deliver({ type: 'admitted', participants: [person('p2'), person('p3')], call: ['p2', 'p3'],
    side_room: null, side_rooms: {}, ice_servers: OLD });
  return { socket, call, client };
}

test('links restarting together share one request and restart with the fresh credentials', async () => {
  const { socket, call, client } = inCall();
  const [first, second] = FakePeerConnection.made;
  first.restartIce();
  second.restartIce();
  assert.deepEqual(socket.sent.filter((m) => m.type === 'ice-servers'), [{ v: 1, type: 'ice-servers' }]);
  assert.deepEqual([first.restarts, second.restarts], [[], []], 'no restart before the answer');
  socket.deliver({ type: 'ice-servers', ice_servers: FRESH, expires_at: 1_800_003_600 });
  await settle();
  assert.deepEqual([first.restarts, second.restarts], [[FRESH], [FRESH]]);
  assert.deepEqual(call.iceServers, FRESH);
  client.stop();
});

test('a refused request still restarts, with the credentials the link had', async () => {
  const { socket, client } = inCall();
  const [first] = FakePeerConnection.made;
  first.restartIce();
  socket.deliver({ type: 'error', code: 'rate-limited', refused: 'ice-servers', retry_after: 7 });
  await settle();
  assert.deepEqual(first.restarts, [OLD]);
  client.stop();
});
