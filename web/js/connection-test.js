// @ts-check
/**
 * The connection test before joining: a short WebRTC connection to the
 * server's echo peer (POST /api/probe), over the same path the call will
 * take (the page passes the ICE servers of an `ice-servers` answer, so TURN
 * is tried where direct paths fail), measured with getStats and data-channel
 * pings, and turned into one plain verdict by `verdict(stats)`. The result is
 * kept with the session (POST /api/probe/result) so its record can say why a
 * session was short. `testsNow` says when a page runs it.
 *
 * No DOM: fetch, the peer connection and the timers are injectable.
 */

/**
 * @typedef {'good'|'audio-only'|'no-connection'} Verdict
 *
 * @typedef {object} ProbeStats
 * @property {boolean} connected       the peer connection reached `connected` and a first ping came back (within 10 s)
 * @property {number|null} connectMs   how long that took from the answer: handshakes repeat what a lossy link loses
 * @property {number|null} rttMs       median data-channel round trip; null when no ping came back
 * @property {number} lossPermille     packets lost per thousand: the worst of pings, video out and video back
 * @property {number} pingLossPermille pings lost per thousand, one way (a ping crosses the link twice)
 * @property {number|null} jitterMs    jitter of the echoed video
 * @property {number|null} kbps        video bitrate that came back
 *
 * @typedef {object} Route
 * @property {string} local   the selected candidate pair's local candidate type: host, srflx, prflx or relay
 * @property {string} remote  the probe's side of it (relay: through the server's TURN)
 *
 * @typedef {object} TestResult
 * @property {Verdict} verdict
 * @property {ProbeStats} stats
 * @property {Route|null} route        the path the test took, as getStats saw it; null when it never connected
 * @property {string|null} probe       the server's id of the test; null when it never started
 * @property {string|null} refused     the server's problem code when it refused the test (429: busy)
 * @property {boolean} stopped         the page stopped the test before its end (someone joined the call):
 *                                     nothing was kept and there is no verdict to show
 */

/**
 * The thresholds of `verdict`. "No connection" when the path carries nothing
 * useful: no media connection at all, no ping back, or half the pings lost
 * each way (loss of the video alone does not count here: a narrow link loses
 * video to its own queue, yet carries audio).
 * "Audio only" when video would freeze: 5% loss already breaks VP8 pictures
 * (each loss costs a keyframe round trip), 400 ms of round trip makes
 * conversation stilted, 60 ms of jitter overflows the jitter buffer,
 * under 120 kbit/s even 320x240 video stalls while Opus needs ~32, and a
 * handshake that needs over 3 s (on a link that does it in 0.1 s when clean)
 * has been losing its packets.
 */
export const THRESHOLDS = Object.freeze({
  noConnectionPingLossPermille: 500,
  audioOnlyLossPermille: 50,
  audioOnlyRttMs: 400,
  audioOnlyJitterMs: 60,
  audioOnlyMinKbps: 120,
  audioOnlyConnectMs: 3000,
});

/** What the page says for each verdict (call-text.js holds the translations). */
export const VERDICT_TEXT = Object.freeze({
  good: 'good',
  'audio-only': 'video may freeze: we will start with audio only',
  'no-connection': 'no connection: try another network',
});

/**
 * The verdict on a test's figures; pure.
 * @param {ProbeStats} stats
 * @param {typeof THRESHOLDS} [limits]
 * @returns {Verdict}
 */
export function verdict(stats, limits = THRESHOLDS) {
  if (!stats.connected || stats.rttMs === null || stats.pingLossPermille >= limits.noConnectionPingLossPermille) {
    return 'no-connection';
  }
  if (stats.lossPermille >= limits.audioOnlyLossPermille
      || stats.rttMs >= limits.audioOnlyRttMs
      || (stats.jitterMs !== null && stats.jitterMs >= limits.audioOnlyJitterMs)
      || (stats.kbps !== null && stats.kbps < limits.audioOnlyMinKbps)
      || (stats.connectMs !== null && stats.connectMs >= limits.audioOnlyConnectMs)) {
    return 'audio-only';
  }
  return 'good';
}

/**
 * Whether a page runs its connection test on this signalling event; pure. Once per page: a test while
 * waiting to be let in, or, for staff (who never wait), on arriving in a call nobody else is in yet:
 * a test then competes with no one's call. Never once someone else is in the call.
 * @param {{tested: boolean, event: 'waiting'|'admitted', role: string, othersInCall: number}} moment
 */
export function testsNow({ tested, event, role, othersInCall }) {
  if (tested) return false;
  if (event === 'waiting') return true;
  return role !== 'family' && othersInCall === 0;
}

/**
 * The selected candidate pair's two candidate types in one getStats report, or null before one is chosen.
 * @param {RTCStatsReport} report
 * @returns {Route|null}
 */
export function selectedRoute(report) {
  /** @type {Map<string, any>} */
  const byId = new Map();
  report.forEach((/** @type {any} */ entry) => byId.set(entry.id, entry));
  let pair = null;
  for (const entry of byId.values()) {
    if (entry.type === 'transport' && entry.selectedCandidatePairId) pair = byId.get(entry.selectedCandidatePairId);
  }
  // Browsers without transport stats (Firefox) flag the pair itself.
  pair ??= [...byId.values()].find((entry) => entry.type === 'candidate-pair' && entry.selected) ?? null;
  const local = pair && byId.get(pair.localCandidateId);
  const remote = pair && byId.get(pair.remoteCandidateId);
  if (!local?.candidateType || !remote?.candidateType) return null;
  return { local: local.candidateType, remote: remote.candidateType };
}

/**
 * The median of a list of numbers, or null for none.
 * @param {number[]} values
 */
export function median(values) {
  if (!values.length) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * The figures of the video (echoed back, and sent) in one getStats report.
 * @param {RTCStatsReport} report
 */
export function videoFigures(report) {
  const figures = { bytesReceived: 0, packetsReceived: 0, packetsLost: 0, jitterMs: /** @type {number|null} */ (null),
    packetsSent: 0, remoteLost: 0, at: 0 };
  report.forEach((/** @type {any} */ entry) => {
    if (entry.kind !== 'video' && entry.mediaType !== 'video') return;
    if (entry.type === 'inbound-rtp') {
      figures.bytesReceived += entry.bytesReceived ?? 0;
      figures.packetsReceived += entry.packetsReceived ?? 0;
      figures.packetsLost += Math.max(0, entry.packetsLost ?? 0);
      if (typeof entry.jitter === 'number') figures.jitterMs = Math.round(entry.jitter * 1000);
      figures.at = entry.timestamp ?? figures.at;
    } else if (entry.type === 'outbound-rtp') {
      figures.packetsSent += entry.packetsSent ?? 0;
    } else if (entry.type === 'remote-inbound-rtp') {
      figures.remoteLost += Math.max(0, entry.packetsLost ?? 0);
    }
  });
  return figures;
}

/**
 * Loss per thousand, 0 when nothing was expected.
 * @param {number} lost
 * @param {number} expected
 */
function permille(lost, expected) {
  return expected > 0 ? Math.min(1000, Math.round((lost / expected) * 1000)) : 0;
}

/**
 * @typedef {object} TestOptions
 * @property {string} origin                 the server's origin
 * @property {string} token                  join, resume or staff access token
 * @property {string|null} [session]         staff name the session
 * @property {MediaStreamTrack|null} [videoTrack]  a camera track to send (the echo needs one; without, no bitrate)
 * @property {number} [seconds]              how long to measure (default 5)
 * @property {RTCIceServer[]} [iceServers]
 * @property {typeof fetch} [fetch]
 * @property {typeof RTCPeerConnection} [PeerConnection]
 * @property {(ms: number) => Promise<void>} [sleep]
 * @property {() => number} [now]
 * @property {() => boolean} [keepResult]   asked before the result is sent: false once the session is over for
 *                                           this page, when the server could only refuse it (410)
 * @property {AbortSignal} [signal]          stops the test early (someone joined the call): nothing is kept
 */

const CONNECT_MS = 10_000;
const GATHER_MS = 3000;
const HTTP_MS = 8000;
const PING_EVERY_MS = 100;
const PING_CHANNEL_ID = 0;

/** @param {number} ms */
const defaultSleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Run the test for ~`seconds` and keep its result with the session; never throws.
 * @param {TestOptions} options
 * @returns {Promise<TestResult>}
 */
export async function runConnectionTest({
  origin, token, session = null, videoTrack = null, seconds = 5, iceServers = [],
  fetch = globalThis.fetch.bind(globalThis), PeerConnection = globalThis.RTCPeerConnection,
  sleep = defaultSleep, now = () => performance.now(), keepResult = () => true, signal = undefined,
}) {
  /** @type {ProbeStats} */
  const stats = { connected: false, connectMs: null, rttMs: null, lossPermille: 1000, pingLossPermille: 1000, jitterMs: null, kbps: null };
  /** @type {TestResult} */
  const result = { verdict: 'no-connection', stats, route: null, probe: null, refused: null, stopped: false };
  const stopped = () => {
    result.stopped ||= signal?.aborted === true;
    return result.stopped;
  };
  if (stopped()) return result;
  const pc = new PeerConnection({ iceServers });
  try {
    if (videoTrack) pc.addTransceiver(videoTrack, { direction: 'sendrecv', sendEncodings: [{ maxBitrate: 300_000 }] });
    else pc.addTransceiver('video', { direction: 'recvonly' });
    // Unordered and never retransmitted: a lost ping stays lost, so pings measure loss too. Agreed with the
    // server in advance (PING_CHANNEL_ID in telepractice/signaling/probe.py): opened in band, it would send
    // ordered until the server's acknowledgement came, and one lost ping could hold back the rest.
    const channel = pc.createDataChannel('probe', { negotiated: true, id: PING_CHANNEL_ID, ordered: false, maxRetransmits: 0 });
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, sleep, stopped);
    if (stopped()) return result;
    const answer = await post(fetch, `${origin}/api/probe`, token, { sdp: pc.localDescription?.sdp, ...(session ? { session } : {}) });
    if (!answer.ok) {
      result.refused = answer.body?.code ?? `http-${answer.status}`;
      return result;
    }
    result.probe = answer.body.probe;
    await pc.setRemoteDescription({ type: 'answer', sdp: answer.body.sdp });
    const answered = now();
    stats.connected = await connected(pc, channel, sleep, stopped);
    if (stats.connected) stats.connectMs = Math.round(now() - answered);
    if (stats.connected) await measure(pc, channel, stats, seconds, sleep, now, stopped);
    if (stats.connected) result.route = selectedRoute(await pc.getStats());
    if (stopped()) return result; // a test cut short would say "no connection" or worse, and wrongly
    result.verdict = verdict(stats);
    if (result.probe && keepResult()) {
      await post(fetch, `${origin}/api/probe/result`, token, {
        probe: result.probe, verdict: result.verdict, rtt_ms: round(stats.rttMs), loss_permille: stats.lossPermille,
        jitter_ms: round(stats.jitterMs), kbps: round(stats.kbps), ...(session ? { session } : {}),
      });
    }
    return result;
  } catch {
    // The server could not be reached at all (or the browser refused): that is what "no connection" means.
    return result;
  } finally {
    pc.close();
  }
}

/** @param {number|null} value */
function round(value) {
  return value === null ? null : Math.max(0, Math.round(value));
}

/**
 * @param {typeof fetch} fetcher
 * @param {string} url
 * @param {string} token
 * @param {object} body
 * @returns {Promise<{ok: boolean, status: number, body: any}>}
 */
async function post(fetcher, url, token, body) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), HTTP_MS);
  try {
    const response = await fetcher(url, {
      method: 'POST', signal: abort.signal, cache: 'no-store',
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${token}` },
      body: JSON.stringify(body),
    });
    return { ok: response.ok, status: response.status, body: await response.json().catch(() => null) };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Wait (bounded) until every candidate is in the local description: the probe takes no trickle.
 * With TURN servers this includes the relay candidates, which take a round trip to the TURN server.
 * @param {RTCPeerConnection} pc
 * @param {(ms: number) => Promise<void>} sleep
 * @param {() => boolean} stopped
 */
async function gathered(pc, sleep, stopped) {
  for (let waited = 0; pc.iceGatheringState !== 'complete' && waited < GATHER_MS && !stopped(); waited += 50) {
    await sleep(50);
  }
}

/**
 * Wait (bounded) until the path carries data both ways: the peer connection connected, the ping channel
 * open and one of its pings answered. The channel opens on this side once this side's handshake is done,
 * while the probe may still be waiting for a handshake packet the link lost (aiortc repeats it every 3 s)
 * and answers nothing until then: measuring from "open" read that wait as the pings' loss, and once as
 * no connection at all although video flowed.
 * @param {RTCPeerConnection} pc
 * @param {RTCDataChannel} channel
 * @param {(ms: number) => Promise<void>} sleep
 * @param {() => boolean} stopped
 */
async function connected(pc, channel, sleep, stopped) {
  let answered = false;
  channel.onmessage = () => { answered = true; };
  for (let waited = 0; waited < CONNECT_MS && !stopped(); waited += 50) {
    if (answered) return true;
    if (pc.connectionState === 'failed' || pc.connectionState === 'closed') return false;
    if (pc.connectionState === 'connected' && channel.readyState === 'open' && waited % PING_EVERY_MS === 0) {
      channel.send('{"ready":true}'); // not a `seq`: the measured pings start after
    }
    await sleep(50);
  }
  return false;
}

/**
 * Pings lost per thousand, one way; pure. A ping is lost if either crossing loses it, so one way is
 * 1 - sqrt(1 - round-trip loss). A ping sent less than `timeoutMs` before `readAt` that has not come
 * back counts neither way: on a link with a second of queue it may still be on its way, and counting
 * it lost made a slow link read as no connection at all.
 * @param {Map<number, number>} sent      each ping's number and when it was sent
 * @param {Set<number>} answered          the numbers of the pings that came back
 * @param {number} readAt                 when the figures are read
 * @param {number} timeoutMs              how long a ping may take before it counts as lost
 * @returns {number}
 */
export function pingLossPermille(sent, answered, readAt, timeoutMs) {
  let due = 0;
  let back = 0;
  for (const [seq, at] of sent) {
    if (answered.has(seq)) {
      due += 1;
      back += 1;
    } else if (readAt - at >= timeoutMs) {
      due += 1;
    }
  }
  if (due === 0) return 1000;
  return Math.round((1 - Math.sqrt(back / due)) * 1000);
}

/**
 * Ping every 100 ms for `seconds`, then read the video's figures over the same span.
 * @param {RTCPeerConnection} pc
 * @param {RTCDataChannel} channel
 * @param {ProbeStats} stats
 * @param {number} seconds
 * @param {(ms: number) => Promise<void>} sleep
 * @param {() => number} now
 * @param {() => boolean} stopped
 */
async function measure(pc, channel, stats, seconds, sleep, now, stopped) {
  /** @type {Map<number, number>} */
  const sent = new Map();
  /** @type {number[]} */
  const rtts = [];
  /** @type {Set<number>} */
  const answered = new Set();
  channel.onmessage = (event) => {
    const seq = Number(JSON.parse(String(event.data)).seq);
    const at = sent.get(seq);
    if (at !== undefined && !answered.has(seq)) {
      answered.add(seq);
      rtts.push(now() - at);
    }
  };
  const before = videoFigures(await pc.getStats());
  const started = now();
  let seq = 0;
  while (now() - started < seconds * 1000) {
    if (channel.readyState !== 'open' || stopped()) break;
    seq += 1;
    sent.set(seq, now());
    channel.send(JSON.stringify({ seq }));
    await sleep(PING_EVERY_MS);
  }
  await sleep(Math.min(1000, Math.max(300, 2 * (median(rtts) ?? 300)))); // the last pings' way back
  const after = videoFigures(await pc.getStats());
  const spanMs = Math.max(1, now() - started);
  stats.rttMs = median(rtts);
  stats.pingLossPermille = pingLossPermille(sent, answered, now(), Math.max(300, 2 * (stats.rttMs ?? 0)));
  const lostBack = after.packetsLost - before.packetsLost;
  const receivedBack = after.packetsReceived - before.packetsReceived;
  const lostOut = after.remoteLost - before.remoteLost;
  const sentOut = after.packetsSent - before.packetsSent;
  stats.lossPermille = Math.max(
    stats.pingLossPermille,
    permille(lostBack, lostBack + receivedBack),
    permille(lostOut, sentOut),
  );
  stats.jitterMs = after.jitterMs;
  stats.kbps = after.bytesReceived > 0 ? ((after.bytesReceived - before.bytesReceived) * 8) / spanMs : null;
}
