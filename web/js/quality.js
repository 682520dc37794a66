// @ts-check
/**
 * Keeping a call going on a poor connection: every 2 s each peer connection's
 * getStats is read, judged (`assess`), and each link steps through three
 * modes (`nextMode`): `full` video, `reduced` (half resolution, 250 kbit/s),
 * and `audio-only` (no video sent on that link). When every link is audio
 * only, the trouble is this participant's own network: the watch says so
 * (`audio-only` event) so the page can tell the others with `media-state`
 * and show a calm message. When the samples are good again, video comes back
 * a step at a time.
 *
 * It also restarts ICE on a link whose ICE has been `disconnected` for a few
 * seconds or has `failed` (a network change, Wi-Fi to mobile data): the
 * perfect negotiation of call.js carries the new offer.
 *
 * No DOM; the timers are injectable.
 */

import { Emitter } from './protocol.js';

/**
 * @typedef {'good'|'poor'|'bad'|'unknown'} Level
 * @typedef {'full'|'reduced'|'audio-only'} Mode
 *
 * @typedef {object} Sample  one link's figures over the last interval
 * @property {number|null} lossPermille  the worst of what we sent (as the other end reports) and what we received
 * @property {number|null} rttMs
 *
 * @typedef {object} LinkQuality
 * @property {Mode} mode
 * @property {number} streak   samples in a row pointing the same way
 * @property {Level} last
 */

/**
 * Thresholds of `assess`: 3% loss starts to show in video, 10% breaks it; a
 * round trip of 350 ms is noticeable, 600 ms makes talking over each other
 * likely.
 */
export const QUALITY = Object.freeze({
  poorLossPermille: 30,
  badLossPermille: 100,
  poorRttMs: 350,
  badRttMs: 600,
  intervalMs: 2000,
  downAfter: 3, // poor (or bad) samples in a row before stepping down: 6 s, so a busy moment is not a poor link
  minPackets: 30, // fewer packets in an interval than this say nothing about loss
  upAfter: 3, // good samples in a row before stepping up
  iceRestartAfterMs: 4000, // ICE disconnected this long: restart it
});

/** What `reduced` sends. */
export const REDUCED = Object.freeze({ scaleResolutionDownBy: 2, maxBitrate: 250_000 });

/**
 * @param {Sample} sample
 * @returns {Level}
 */
export function assess(sample, limits = QUALITY) {
  const { lossPermille, rttMs } = sample;
  if (lossPermille === null && rttMs === null) return 'unknown';
  if ((lossPermille ?? 0) >= limits.badLossPermille || (rttMs ?? 0) >= limits.badRttMs) return 'bad';
  if ((lossPermille ?? 0) >= limits.poorLossPermille || (rttMs ?? 0) >= limits.poorRttMs) return 'poor';
  return 'good';
}

/**
 * A link's quality after one more sample; pure. Down one step after `downAfter`
 * poor samples, straight to audio only after as many bad ones; up one step
 * after `upAfter` good ones. Unknown samples (nothing flowed) change nothing.
 * @param {LinkQuality} state
 * @param {Level} level
 * @returns {LinkQuality}
 */
export function nextMode(state, level, limits = QUALITY) {
  if (level === 'unknown') return state;
  const down = level !== 'good';
  const sameWay = (state.last !== 'good') === down && state.last !== 'unknown';
  const streak = sameWay ? state.streak + 1 : 1;
  if (down && streak >= limits.downAfter && state.mode !== 'audio-only') {
    const mode = level === 'bad' || state.mode === 'reduced' ? 'audio-only' : 'reduced';
    return { mode, streak: 0, last: 'unknown' };
  }
  if (!down && streak >= limits.upAfter && state.mode !== 'full') {
    return { mode: state.mode === 'audio-only' ? 'reduced' : 'full', streak: 0, last: 'unknown' };
  }
  return { mode: state.mode, streak, last: level };
}

/**
 * Counters of one getStats report that `sample` compares between two reports.
 * @param {RTCStatsReport} report
 */
export function counters(report) {
  const totals = { sent: 0, lostOut: 0, received: 0, lostIn: 0, rttMs: /** @type {number|null} */ (null) };
  /** @type {any} */
  let pair = null;
  report.forEach((/** @type {any} */ entry) => {
    if (entry.type === 'outbound-rtp') totals.sent += entry.packetsSent ?? 0;
    if (entry.type === 'remote-inbound-rtp') totals.lostOut += Math.max(0, entry.packetsLost ?? 0);
    if (entry.type === 'inbound-rtp') {
      totals.received += entry.packetsReceived ?? 0;
      totals.lostIn += Math.max(0, entry.packetsLost ?? 0);
    }
    if (entry.type === 'candidate-pair' && entry.nominated && entry.state === 'succeeded') pair = entry;
  });
  if (pair && typeof pair.currentRoundTripTime === 'number') totals.rttMs = pair.currentRoundTripTime * 1000;
  return totals;
}

/**
 * The sample between two readings of `counters`.
 *
 * A cut (nothing gets through either way) reads as good: Chromium keeps sending, no receiver report comes
 * back to count what was lost (0‰), and the selected pair turns `in-progress` (no round trip). The cut's
 * loss comes with the first reports after it, as one bad sample (466-679‰ after a 5 s cut, measured in
 * tests/network/test_degraded.py). Neither steps a link down, which takes `downAfter` in a row; a cut is
 * for ICE to survive (Chromium kept ICE `connected` through 5 s), not for the quality watch.
 * @param {ReturnType<typeof counters>} before
 * @param {ReturnType<typeof counters>} after
 * @returns {Sample}
 */
export function sample(before, after, minPackets = QUALITY.minPackets) {
  const sent = after.sent - before.sent;
  const lostOut = after.lostOut - before.lostOut;
  const received = after.received - before.received;
  const lostIn = after.lostIn - before.lostIn;
  /** @type {number[]} */
  const losses = [];
  if (sent >= minPackets) losses.push(Math.min(1000, Math.round((Math.max(0, lostOut) / sent) * 1000)));
  if (received + lostIn >= minPackets) losses.push(Math.round((Math.max(0, lostIn) / (received + lostIn)) * 1000));
  return { lossPermille: losses.length ? Math.max(...losses) : null, rttMs: sent + received > 0 ? after.rttMs : null };
}

/**
 * @typedef {object} WatchedLink  what the watch needs of call.js's PeerLink
 * @property {string} remoteId
 * @property {RTCPeerConnection} pc
 * @property {RTCRtpSender|null} cameraSender
 * @property {boolean} closed
 *
 * @typedef {object} WatchedCall  what the watch needs of call.js's Call
 * @property {Map<string, WatchedLink>} peers
 * @property {MediaStream|null} localStream
 * @property {number|null} maxKbps   the room's cap per video stream (from `bitrate`)
 * @property {(type: string, handler: (value: any) => void) => () => void} on
 *
 * @typedef {object} WatchTimers
 * @property {(fn: () => void, ms: number) => any} setInterval
 * @property {(handle: any) => void} clearInterval
 * @property {() => number} now
 */

/**
 * Watches every link of a call. Events: `mode` ({peer, mode}), `audio-only`
 * (true when every link has fallen to audio only, false when video is back),
 * `ice-restart` ({peer}), and `assessed` ({peer, lossPermille, rttMs, level,
 * mode}) for every sample, so tests can see what the watch made of a link.
 */
export class QualityWatch extends Emitter {
  /**
   * @param {{call: WatchedCall, timers?: WatchTimers, limits?: typeof QUALITY}} options
   */
  constructor({ call, timers, limits = QUALITY }) {
    super();
    this.call = call;
    this.limits = limits;
    this.timers = timers ?? {
      setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
      clearInterval: (handle) => globalThis.clearInterval(handle),
      now: () => Date.now(),
    };
    /** @type {Map<string, LinkQuality & {pc: RTCPeerConnection, counters: ReturnType<typeof counters>|null, disconnectedAt: number|null}>} */
    this.links = new Map();
    this.audioOnly = false;
    /** @type {Mode} the mode a new link starts in */
    this.startMode = 'full';
    /** Whether any link has been judged on samples of the call itself (see `startAudioOnly`). */
    this.measured = false;
    this._timer = this.timers.setInterval(() => { this.tick(); }, limits.intervalMs);
    this._unsubscribe = call.on('peer-closed', ({ peer }) => { this.links.delete(peer); });
  }

  /**
   * Start every link without video, as the connection test advised; video comes back once samples are good.
   * Returns whether the advice was taken.
   *
   * Advice that comes once the call's own samples have judged a link is dropped: those samples say more
   * about this network now than a test that ran before them. A family's waiting-room test often ends after
   * they are let in, so it overlaps the call; in the degraded-link test it ran through a 5 s cut (205-218‰
   * loss, verdict audio only) and its verdict landed 0.5-1.3 s after the link came back, pausing the
   * family's video on a link the watch had judged good; video came back only after `upAfter` good samples
   * (6 s), so the worker saw the family again 7.9-8.5 s after the cut against 1.6-2.1 s the other way.
   */
  startAudioOnly() {
    if (this.measured) return false;
    this.startMode = 'audio-only';
    for (const link of this.links.values()) Object.assign(link, { mode: 'audio-only', streak: 0, last: 'unknown' });
    if (!this.audioOnly) {
      this.audioOnly = true;
      this.emit('audio-only', true);
    }
    return true;
  }

  /** The mode of each link, for the page and tests. */
  modes() {
    /** @type {{[peer: string]: Mode}} */
    const out = {};
    for (const [peer, link] of this.links) out[peer] = link.mode;
    return out;
  }

  async tick() {
    await Promise.all([...this.call.peers.values()].map((link) => this._watch(link).catch(() => {})));
    const modes = [...this.links.values()].map((link) => link.mode);
    const audioOnly = modes.length > 0 ? modes.every((mode) => mode === 'audio-only') : this.startMode === 'audio-only';
    if (audioOnly !== this.audioOnly) {
      this.audioOnly = audioOnly;
      this.emit('audio-only', audioOnly);
    }
  }

  /** @param {WatchedLink} link */
  async _watch(link) {
    if (link.closed) return;
    let state = this.links.get(link.remoteId);
    if (!state || state.pc !== link.pc) {
      // A new connection to this peer (after a reconnection) keeps the mode the link had.
      state = { mode: state?.mode ?? this.startMode, streak: 0, last: 'unknown', pc: link.pc, counters: null, disconnectedAt: null };
      this.links.set(link.remoteId, state);
    }
    this._iceHealth(link, state);
    const now = counters(await link.pc.getStats());
    const before = state.counters;
    state.counters = now;
    if (before === null) return;
    const measured = sample(before, now, this.limits.minPackets);
    const level = assess(measured, this.limits);
    if (level !== 'unknown') this.measured = true;
    const next = nextMode(state, level, this.limits);
    const changed = next.mode !== state.mode;
    Object.assign(state, next);
    this.emit('assessed', { peer: link.remoteId, ...measured, level, mode: state.mode });
    await this._apply(link, state.mode);
    if (changed) this.emit('mode', { peer: link.remoteId, mode: state.mode });
  }

  /**
   * @param {WatchedLink} link
   * @param {{disconnectedAt: number|null}} state
   */
  _iceHealth(link, state) {
    const ice = link.pc.iceConnectionState;
    const now = this.timers.now();
    if (ice === 'disconnected' || ice === 'failed') {
      state.disconnectedAt ??= now;
      if (ice === 'failed' || now - state.disconnectedAt >= this.limits.iceRestartAfterMs) {
        state.disconnectedAt = now; // once per interval of trouble, not every tick
        link.pc.restartIce();
        this.emit('ice-restart', { peer: link.remoteId });
      }
    } else {
      state.disconnectedAt = null;
    }
  }

  /**
   * Make the camera sender of a link match its mode; does nothing when it already does.
   * @param {WatchedLink} link
   * @param {Mode} mode
   */
  async _apply(link, mode) {
    const sender = link.cameraSender;
    if (!sender || link.closed) return;
    const camera = this.call.localStream?.getVideoTracks()[0] ?? null;
    const wanted = mode === 'audio-only' ? null : camera;
    if (sender.track !== wanted) await sender.replaceTrack(wanted);
    const parameters = sender.getParameters();
    if (!parameters.encodings?.length) return;
    const scale = mode === 'reduced' ? REDUCED.scaleResolutionDownBy : 1;
    const roomCap = this.call.maxKbps === null ? null : this.call.maxKbps * 1000;
    let changed = false;
    for (const encoding of parameters.encodings) {
      if ((encoding.scaleResolutionDownBy ?? 1) !== scale) {
        encoding.scaleResolutionDownBy = scale;
        changed = true;
      }
      const cap = mode === 'reduced' ? Math.min(REDUCED.maxBitrate, roomCap ?? Infinity) : roomCap;
      if (cap !== null && encoding.maxBitrate !== cap) {
        encoding.maxBitrate = cap;
        changed = true;
      }
    }
    if (changed) await sender.setParameters(parameters);
  }

  stop() {
    this.timers.clearInterval(this._timer);
    this._unsubscribe();
  }
}
