// The mesh against fake peer connections: whom it calls, whom it hangs up on, glare, bitrate caps.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { Call, isPolite } from '../../web/js/call.js';
import { Emitter } from '../../web/js/protocol.js';

/** A signalling client that records what the call sends and lets the test play the server. */
class FakeClient extends Emitter {
  constructor() { super(); this.sent = []; }
  send(message) { this.sent.push(message); return true; }
  server(message) { this.emit(message.type, { v: 1, ...message }); }
}

/** Just enough of RTCPeerConnection: signalling states, descriptions, senders. */
class FakePeerConnection {
  static made = [];
  constructor(configuration) {
    this.configuration = configuration;
    this.signalingState = 'stable';
    this.connectionState = 'new';
    this.localDescription = null;
    this.remoteDescription = null;
    this.senders = [];
    this.candidates = [];
    this.closed = false;
    FakePeerConnection.made.push(this);
  }
  addTrack(track) { return this._sender(track); }
  addTransceiver(kind) { return { sender: this._sender(null, kind) }; }
  _sender(track, kind = track?.kind) {
    const sender = { track, kind, encodings: [{}],
      getParameters() { return { encodings: this.encodings.map((e) => ({ ...e })) }; },
      async setParameters(parameters) { this.encodings = parameters.encodings; },
      async replaceTrack(next) { this.track = next; } };
    this.senders.push(sender);
    return sender;
  }
  getSenders() { return this.senders; }
  async setLocalDescription() {
    const type = this.signalingState === 'have-remote-offer' ? 'answer' : 'offer';
    this.localDescription = { type, sdp: `${type} from fake` };
    this.signalingState = type === 'offer' ? 'have-local-offer' : 'stable';
  }
  async setRemoteDescription({ type, sdp }) {
    if (type === 'offer' && this.signalingState === 'have-local-offer') this.rolledBack = true; // implicit rollback
    this.remoteDescription = { type, sdp };
    this.signalingState = type === 'offer' ? 'have-remote-offer' : 'stable';
  }
  async addIceCandidate(init) { this.candidates.push(init); }
  close() { this.closed = true; this.connectionState = 'closed'; }
}

const track = (kind) => ({ kind });
const localStream = { getAudioTracks: () => [track('audio')], getVideoTracks: () => [track('video')] };
const person = (id) => ({ id, name: id, role: 'family', is_minor: false, audio: true, video: true, screen: false,
  side_room: null, connected: true });
const tick = () => new Promise((resolve) => setImmediate(resolve));

function joined(selfId, call = [], extra = {}) {
  FakePeerConnection.made = [];
  const client = new FakeClient();
  const mesh = new Call({ client, localStream, PeerConnection: FakePeerConnection });
  client.server({ type: 'welcome', you: person(selfId), room: 's', limits: {} });
  client.server({ type: 'admitted', participants: call.map(person), call, side_room: null, side_rooms: {}, ...extra });
  return { client, mesh };
}

test('the one whose id sorts first is impolite', () => {
  assert.equal(isPolite('a', 'b'), false);
  assert.equal(isPolite('b', 'a'), true);
});

test('on admission the newcomer calls everyone in its call list, with the ICE servers given', async () => {
  const servers = [{ urls: ['turn:127.0.0.1:3478'], username: 'u', credential: 'c' }];
  const { client, mesh } = joined('p1', ['p2', 'p3'], { ice_servers: servers });
  assert.deepEqual([...mesh.peers.keys()], ['p2', 'p3']);
  for (const pc of FakePeerConnection.made) {
    assert.deepEqual(pc.configuration.iceServers, servers);
    assert.deepEqual(pc.senders.map((s) => s.track.kind), ['audio', 'video']);
    pc.onnegotiationneeded();
  }
  await tick();
  assert.deepEqual(client.sent.filter((m) => m.type === 'offer').map((m) => m.to), ['p2', 'p3']);
});

test('an offer from someone new is answered on a new connection', async () => {
  const { client, mesh } = joined('p1');
  client.server({ type: 'offer', from: 'p2', sdp: 'remote offer' });
  await tick();
  assert.ok(mesh.peers.has('p2'));
  assert.deepEqual(client.sent.at(-1), { v: 1, type: 'answer', to: 'p2', sdp: 'answer from fake' });
});

test('in a glare the impolite end ignores the offer and the polite end answers it', async () => {
  for (const [selfId, polite] of [['a', false], ['z', true]]) {
    const { client, mesh } = joined(selfId, ['m']);
    const link = mesh.peers.get('m');
    link.pc.onnegotiationneeded();
    await tick();
    assert.equal(link.pc.signalingState, 'have-local-offer');
    client.server({ type: 'offer', from: 'm', sdp: 'their offer' });
    await tick();
    const answered = client.sent.some((m) => m.type === 'answer');
    assert.equal(answered, polite, selfId);
    assert.equal(link.ignoreOffer, !polite);
    assert.equal(Boolean(link.pc.rolledBack), polite);
    client.server({ type: 'candidate', from: 'm', candidate: 'candidate:1', sdp_mid: '0', sdp_mline_index: 0, username_fragment: null });
    await tick();
  }
});

test('people who leave, drop or come back are hung up on; side rooms hang up and call as told', async () => {
  const { client, mesh } = joined('p1', ['p2', 'p3', 'p4']);
  const [pc2, pc3] = FakePeerConnection.made;
  client.server({ type: 'presence', event: 'dropped', participant: person('p2'), reason: null });
  client.server({ type: 'presence', event: 'media', participant: person('p4'), reason: null });
  assert.ok(pc2.closed);
  assert.deepEqual([...mesh.peers.keys()], ['p3', 'p4']);
  client.server({ type: 'side-room-changed', side_rooms: { 'side-1': ['p1', 'p5'] }, side_room: 'side-1',
    hang_up: ['p3', 'p4'], call: ['p5'] });
  assert.ok(pc3.closed);
  assert.deepEqual([...mesh.peers.keys()], ['p5']);
  client.server({ type: 'waiting', reason: 'sent-back' });
  assert.equal(mesh.peers.size, 0);
});

test('a second admitted (after reconnecting) starts every connection afresh', () => {
  const { client, mesh } = joined('p1', ['p2']);
  const first = mesh.peers.get('p2');
  client.server({ type: 'admitted', participants: [person('p2')], call: ['p2'], side_room: null, side_rooms: {} });
  assert.ok(first.closed);
  assert.notEqual(mesh.peers.get('p2'), first);
});

test('the bitrate cap goes on every outgoing video stream, not on audio', async () => {
  const { client, mesh } = joined('p1', ['p2', 'p3']);
  client.server({ type: 'bitrate', max_kbps: 1200, peers: 2 });
  await tick();
  for (const link of mesh.peers.values()) {
    const [audio, video] = link.pc.senders;
    assert.equal(video.encodings[0].maxBitrate, 1_200_000);
    assert.equal(audio.encodings[0].maxBitrate, undefined);
  }
});
