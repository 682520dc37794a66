// @ts-check
/**
 * The call: one RTCPeerConnection per remote participant (a full mesh of at
 * most 6), negotiated with the "perfect negotiation" pattern so that glare
 * (both ends offering at once) and renegotiation (screen share, a new peer)
 * never wedge a connection. It follows the server's instructions: whom to
 * call (`admitted`, `side-room-changed`), whom to hang up on (`presence`,
 * `side-room-changed`), and how much each video stream may send (`bitrate`).
 *
 * No DOM: the page hands in the local stream and listens for `remote-stream`,
 * `peer-closed`, `safety-code` and `peer-state` events.
 */

import * as protocol from './protocol.js';
import { Emitter } from './protocol.js';
import { safetyCodeOf } from './safety-code.js';

/**
 * @typedef {import('./protocol.js').SignalingClient} SignalingClient
 * @typedef {import('./protocol.js').Message} Message
 *
 * @typedef {object} CallOptions
 * @property {SignalingClient} client
 * @property {MediaStream|null} localStream      camera and microphone (either may be missing)
 * @property {typeof RTCPeerConnection} [PeerConnection]
 * @property {RTCConfiguration} [configuration]   used as given, plus `iceServers` from `admitted`
 */

/**
 * Who is polite in a pair: the participant whose id sorts last. The impolite one
 * (id sorting first) wins a glare, as it is also the one who calls when both moved.
 * @param {string} selfId
 * @param {string} remoteId
 */
export function isPolite(selfId, remoteId) {
  return selfId > remoteId;
}

/** One peer connection to one remote participant, negotiated the perfect way. */
export class PeerLink {
  /**
   * @param {Call} call
   * @param {string} remoteId
   * @param {RTCPeerConnection} pc
   */
  constructor(call, remoteId, pc) {
    this.call = call;
    this.remoteId = remoteId;
    this.pc = pc;
    this.polite = isPolite(call.selfId ?? '', remoteId);
    this.makingOffer = false;
    this.ignoreOffer = false;
    this.isSettingRemoteAnswerPending = false;
    this.closed = false;
    /** @type {string|null} */
    this.safetyCode = null;
    /** @type {RTCRtpSender|null} */
    this.cameraSender = null;
    /** @type {RTCRtpSender|null} */
    this.micSender = null;
    /** @type {RTCRtpSender|null} */
    this.screenSender = null;
    this.createdAt = Date.now();
    /** @type {number|null} */
    this.connectedAt = null;
    pc.onnegotiationneeded = () => this._negotiate();
    pc.onicecandidate = ({ candidate }) => {
      this.call.client.send(protocol.candidate(remoteId, candidate ? candidate.toJSON() : null));
    };
    pc.ontrack = (event) => {
      const stream = event.streams[0] ?? new MediaStream([event.track]);
      this.call.emit('remote-stream', { peer: remoteId, stream, track: event.track });
    };
    pc.onsignalingstatechange = () => {
      if (pc.signalingState === 'stable') this.call._applyBitrate(this);
    };
    pc.onconnectionstatechange = () => this._connectionState();
    // Every ICE restart (quality.js asks for one after a network change) first fetches fresh TURN
    // credentials: those handed out at admission may have expired in a long call (protocol.md, ice-servers).
    if (typeof pc.restartIce === 'function') {
      const restartIce = pc.restartIce.bind(pc);
      pc.restartIce = () => { void this.call.refreshIceServers().then(() => { if (!this.closed) restartIce(); }); };
    }
  }

  async _negotiate() {
    if (this.closed) return;
    try {
      this.makingOffer = true;
      await this.pc.setLocalDescription();
      const local = this.pc.localDescription;
      if (local && local.type === 'offer' && !this.closed) {
        this.call.client.send(protocol.offer(this.remoteId, local.sdp));
      }
    } catch (error) {
      this.call.emit('negotiation-error', { peer: this.remoteId, error });
    } finally {
      this.makingOffer = false;
    }
  }

  /**
   * An offer or answer from the remote participant.
   * @param {'offer'|'answer'} type
   * @param {string} sdp
   */
  async receiveDescription(type, sdp) {
    const pc = this.pc;
    const readyForOffer = !this.makingOffer && (pc.signalingState === 'stable' || this.isSettingRemoteAnswerPending);
    const offerCollision = type === 'offer' && !readyForOffer;
    this.ignoreOffer = !this.polite && offerCollision;
    if (offerCollision) this.call.emit('glare', { peer: this.remoteId, polite: this.polite });
    if (this.ignoreOffer) return;
    try {
      this.isSettingRemoteAnswerPending = type === 'answer';
      await pc.setRemoteDescription({ type, sdp }); // a polite peer rolls its own offer back implicitly
      this.isSettingRemoteAnswerPending = false;
      if (type === 'offer') {
        if (this.call.audioOnly) this.call._applyAudioOnly(this); // the answer then declines video too
        await pc.setLocalDescription();
        const local = pc.localDescription;
        if (local && !this.closed) this.call.client.send(protocol.answer(this.remoteId, local.sdp));
      }
    } catch (error) {
      this.isSettingRemoteAnswerPending = false;
      if (!this.closed) this.call.emit('negotiation-error', { peer: this.remoteId, error });
    }
  }

  /** @param {import('./protocol.js').CandidateInit} init */
  async receiveCandidate(init) {
    try {
      await this.pc.addIceCandidate(init.candidate ? init : null);
    } catch (error) {
      // Candidates of an offer we ignored in a glare are expected to fail.
      if (!this.ignoreOffer && !this.closed) this.call.emit('negotiation-error', { peer: this.remoteId, error });
    }
  }

  async _connectionState() {
    const state = this.pc.connectionState;
    if (state === 'connected' && this.connectedAt === null) this.connectedAt = Date.now();
    this.call.emit('peer-state', { peer: this.remoteId, state });
    if (state === 'connected') {
      const code = await safetyCodeOf(this.pc);
      if (code && code !== this.safetyCode && !this.closed) {
        this.safetyCode = code;
        this.call.emit('safety-code', { peer: this.remoteId, code });
      }
    }
  }

  close() {
    if (this.closed) return;
    this.closed = true;
    this.pc.onnegotiationneeded = this.pc.onicecandidate = this.pc.ontrack = null;
    this.pc.onsignalingstatechange = this.pc.onconnectionstatechange = null;
    this.pc.close();
  }
}

/** The mesh of one participant, driven by the signalling client's messages. */
export class Call extends Emitter {
  /** @param {CallOptions} options */
  constructor({ client, localStream, PeerConnection = globalThis.RTCPeerConnection, configuration = {} }) {
    super();
    this.client = client;
    this.localStream = localStream;
    /** @type {MediaStream|null} */
    this.screenStream = null;
    this.PeerConnection = PeerConnection;
    this.configuration = configuration;
    /** @type {RTCIceServer[]|null} */
    this.iceServers = null;
    /** @type {Promise<void>|null} the `ice-servers` request in flight, if any */
    this._refreshingIce = null;
    /** @type {string|null} */
    this.selfId = null;
    /** @type {Map<string, PeerLink>} */
    this.peers = new Map();
    /** @type {number|null} the cap of each outgoing video stream, from the latest `bitrate` message */
    this.maxKbps = null;
    this.inCall = false;
    /** Audio only, by the person's choice: no video sent or received on any connection. */
    this.audioOnly = false;
    /** @type {WeakMap<RTCRtpTransceiver, RTCRtpTransceiverDirection>} each video transceiver's direction before */
    this._directionBefore = new WeakMap();
    /** @type {Array<() => void>} */
    this._unsubscribe = [
      client.on('welcome', (m) => { this.selfId = m.you.id; }),
      client.on('admitted', (m) => this._admitted(m)),
      client.on('offer', (m) => this._link(m.from, true)?.receiveDescription('offer', m.sdp)),
      client.on('answer', (m) => this.peers.get(m.from)?.receiveDescription('answer', m.sdp)),
      client.on('candidate', (m) => this.peers.get(m.from)?.receiveCandidate(protocol.candidateInit(m))),
      client.on('presence', (m) => this._presence(m)),
      client.on('side-room-changed', (m) => this._sideRoomChanged(m)),
      client.on('bitrate', (m) => this._bitrate(m.max_kbps)),
      client.on('waiting', () => this._leftCall()),
      client.on('closed', (event) => { if (event.final) this._leftCall(); }),
    ];
  }

  /** @param {Message} message */
  _admitted(message) {
    // Admitted for the first time, or again after a reconnection: the others wait for fresh offers.
    this.hangUpAll();
    this.inCall = true;
    if (Array.isArray(message.ice_servers)) this.iceServers = message.ice_servers;
    this.emit('admitted', message);
    for (const id of message.call) this._link(id, false);
  }

  /** @param {Message} message */
  _presence(message) {
    const id = message.participant.id;
    if (message.event === 'left' || message.event === 'dropped' || message.event === 'reconnected') {
      this.hangUp(id);
    }
    this.emit('presence', message);
  }

  /** @param {Message} message */
  _sideRoomChanged(message) {
    for (const id of message.hang_up) this.hangUp(id);
    for (const id of message.call) this._link(id, false);
    this.emit('side-room-changed', message);
  }

  _leftCall() {
    this.inCall = false;
    this.hangUpAll();
  }

  /**
   * Fresh ICE servers from the server, set on every connection before an ICE restart. One request at a
   * time, shared by every link restarting together; the old servers stay when none come (no TURN, asked
   * too often, no answer in time).
   * @returns {Promise<void>}
   */
  refreshIceServers() {
    this._refreshingIce ??= this.client.freshIceServers().then((fresh) => {
      this._refreshingIce = null;
      if (!fresh || fresh.iceServers.length === 0) return;
      this.iceServers = fresh.iceServers;
      for (const link of this.peers.values()) {
        if (!link.closed) link.pc.setConfiguration({ ...link.pc.getConfiguration(), iceServers: fresh.iceServers });
      }
    });
    return this._refreshingIce;
  }

  /**
   * The link to `remoteId`, made if missing. An incoming offer makes one; a call instruction
   * makes one whose local tracks trigger negotiationneeded, hence the offer.
   * @param {string} remoteId
   * @param {boolean} forOffer
   */
  _link(remoteId, forOffer) {
    const existing = this.peers.get(remoteId);
    if (existing) return existing;
    if (remoteId === this.selfId || (!forOffer && !this.inCall)) return null;
    const configuration = { ...this.configuration };
    if (this.iceServers) configuration.iceServers = this.iceServers;
    const link = new PeerLink(this, remoteId, new this.PeerConnection(configuration));
    this.peers.set(remoteId, link);
    this._addLocalMedia(link);
    this.emit('peer-added', { peer: remoteId, polite: link.polite });
    return link;
  }

  /** @param {PeerLink} link */
  _addLocalMedia(link) {
    const stream = this.localStream;
    const streams = stream ? [stream] : [];
    const mic = stream?.getAudioTracks()[0];
    const camera = stream?.getVideoTracks()[0];
    // addTrack, not addTransceiver: JSEP pairs addTrack's transceivers with a remote offer's m-lines.
    link.micSender = mic ? link.pc.addTrack(mic, ...streams)
      : link.pc.addTransceiver('audio', { direction: 'sendrecv', streams }).sender;
    link.cameraSender = camera ? link.pc.addTrack(camera, ...streams)
      : link.pc.addTransceiver('video', { direction: 'sendrecv', streams }).sender;
    const screen = this.screenStream?.getVideoTracks()[0];
    if (screen && this.screenStream) link.screenSender = link.pc.addTrack(screen, this.screenStream);
    if (this.audioOnly) this._applyAudioOnly(link);
  }

  // --- audio only -------------------------------------------------------------

  /**
   * Stop sending and receiving video on every connection (true), or bring it back (false). Each
   * connection renegotiates by itself: an inactive video m-line means the other end stops sending too,
   * which is what saves a poor connection.
   * @param {boolean} on
   */
  setAudioOnly(on) {
    this.audioOnly = on;
    for (const link of this.peers.values()) this._applyAudioOnly(link);
    this.emit('audio-only', on);
  }

  /** @param {PeerLink} link */
  _applyAudioOnly(link) {
    if (link.closed) return;
    for (const transceiver of link.pc.getTransceivers()) {
      if (transceiver.receiver.track?.kind !== 'video' || transceiver.currentDirection === 'stopped') continue;
      if (this.audioOnly) {
        if (transceiver.direction === 'inactive') continue;
        this._directionBefore.set(transceiver, transceiver.direction);
        transceiver.direction = 'inactive';
      } else if (transceiver.direction === 'inactive') {
        transceiver.direction = this._directionBefore.get(transceiver) ?? 'sendrecv';
      }
    }
  }

  /** @param {string} remoteId */
  hangUp(remoteId) {
    const link = this.peers.get(remoteId);
    if (!link) return;
    this.peers.delete(remoteId);
    link.close();
    this.emit('peer-closed', { peer: remoteId });
  }

  hangUpAll() {
    for (const id of [...this.peers.keys()]) this.hangUp(id);
  }

  // --- bitrate -------------------------------------------------------------

  /** @param {number} maxKbps */
  _bitrate(maxKbps) {
    this.maxKbps = maxKbps;
    for (const link of this.peers.values()) this._applyBitrate(link);
    this.emit('bitrate', maxKbps);
  }

  /**
   * Cap every outgoing video stream of one link at the room's bitrate.
   * @param {PeerLink} link
   */
  async _applyBitrate(link) {
    if (this.maxKbps === null || link.closed) return;
    const maxBitrate = this.maxKbps * 1000;
    for (const sender of link.pc.getSenders()) {
      if (sender.track?.kind !== 'video' && sender !== link.cameraSender) continue;
      const parameters = sender.getParameters();
      // Before negotiation there is nothing to cap; the link calls again once stable.
      if (!parameters.encodings?.length) continue;
      if (parameters.encodings.every((encoding) => encoding.maxBitrate === maxBitrate)) continue;
      for (const encoding of parameters.encodings) encoding.maxBitrate = maxBitrate;
      try {
        await sender.setParameters(parameters);
      } catch (error) {
        if (!link.closed) this.emit('negotiation-error', { peer: link.remoteId, error });
      }
    }
  }

  // --- local media ----------------------------------------------------------

  /**
   * Put a new camera track (or none, to turn the camera off) on every connection; no renegotiation.
   * @param {MediaStreamTrack|null} track
   */
  async replaceCamera(track) {
    await Promise.all([...this.peers.values()].map((link) => link.cameraSender?.replaceTrack(track)));
  }

  /**
   * Share a screen: one more video track on every connection (each renegotiates by itself).
   * @param {MediaStream} stream
   */
  startScreen(stream) {
    this.stopScreen();
    this.screenStream = stream;
    const track = stream.getVideoTracks()[0];
    for (const link of this.peers.values()) link.screenSender = link.pc.addTrack(track, stream);
  }

  stopScreen() {
    if (!this.screenStream) return;
    for (const link of this.peers.values()) {
      if (link.screenSender && !link.closed) link.pc.removeTrack(link.screenSender);
      link.screenSender = null;
    }
    this.screenStream = null;
  }

  /** Renegotiate every connection now (as screen sharing does); for tests of glare. */
  renegotiateAll() {
    for (const link of this.peers.values()) link._negotiate();
  }

  // --- for the page and tests ----------------------------------------------

  /** @returns {{[peer: string]: {state: string, polite: boolean, safetyCode: string|null}}} */
  summary() {
    /** @type {{[peer: string]: {state: string, polite: boolean, safetyCode: string|null}}} */
    const out = {};
    for (const [id, link] of this.peers) {
      out[id] = { state: link.pc.connectionState, polite: link.polite, safetyCode: link.safetyCode };
    }
    return out;
  }

  close() {
    for (const unsubscribe of this._unsubscribe) unsubscribe();
    this._leftCall();
  }
}
