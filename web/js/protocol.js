// @ts-check
/**
 * The signalling protocol (docs/protocol.md), for browsers: outgoing messages
 * built by pure functions, incoming ones checked by `parse`, and a
 * `SignalingClient` that keeps one WebSocket to `/ws` alive (hello, answers to
 * ping, reconnection with back-off and the resume token).
 *
 * No DOM here: the socket factory and the timers are injectable, so the module
 * runs under `node --test` with a fake socket.
 */

export const PROTOCOL_VERSION = 1;

/** Message types the server sends (docs/protocol.md, "Server to client"). */
export const SERVER_TYPES = Object.freeze([
  'welcome', 'waiting', 'participant-waiting', 'participant-left-waiting', 'admitted',
  'turned-away', 'presence', 'offer', 'answer', 'candidate', 'side-room-changed',
  'bitrate', 'session-ended', 'removed', 'replaced', 'help-requested', 'help-acknowledged',
  'time-warning', 'chat', 'ice-servers', 'ping', 'pong', 'error',
]);

/** Close codes after which reconnecting cannot help (docs/protocol.md, "Close codes"). */
export const FINAL_CLOSE_CODES = Object.freeze([1007, 1009, 4000, 4002, 4003, 4009, 4010, 4011]);
/** Close code for a bad or missing token: final, unless the resume token was the one refused. */
export const NOT_AUTHENTICATED = 4001;

/** Messages that end the session for this client: no reconnection afterwards. */
const FINAL_MESSAGES = new Set(['turned-away', 'session-ended', 'removed', 'replaced']);

/** The server pings every 5 s and closes after 20 s of silence; the client mirrors that. */
export const PING_AFTER_SILENCE_MS = 10_000;
export const SILENCE_TIMEOUT_MS = 20_000;

/**
 * @typedef {{[key: string]: any, v: number, type: string}} Message
 *
 * @typedef {object} ParticipantView
 * @property {string} id
 * @property {string} name
 * @property {'host'|'staff'|'family'} role
 * @property {boolean} is_minor
 * @property {boolean} audio
 * @property {boolean} video
 * @property {boolean} screen
 * @property {string|null} side_room
 * @property {boolean} connected
 * @property {boolean} [consent_ok]  only in participant-waiting
 *
 * @typedef {object} CandidateInit  an RTCIceCandidateInit
 * @property {string} [candidate]   empty (or missing) marks the end of candidates
 * @property {string|null} [sdpMid]
 * @property {number|null} [sdpMLineIndex]
 * @property {string|null} [usernameFragment]
 */

/** A message from the server that does not follow the protocol. */
export class ProtocolError extends Error {
  /** @param {string} message */
  constructor(message) {
    super(message);
    this.name = 'ProtocolError';
  }
}

// --- outgoing messages ------------------------------------------------------

/**
 * @param {string} type
 * @param {{[key: string]: any}} [fields]
 * @returns {Message}
 */
function message(type, fields = {}) {
  return { v: PROTOCOL_VERSION, type, ...fields };
}

/** @param {string} token */
export const hello = (token) => message('hello', { token });
/** @param {string} participant */
export const admit = (participant) => message('admit', { participant });
/** @param {string} participant */
export const turnAway = (participant) => message('turn-away', { participant });
/** @param {string} participant */
export const sendToWaitingRoom = (participant) => message('send-to-waiting-room', { participant });
/** @param {string[]} participants */
export const sideRoomCreate = (participants) => message('side-room-create', { participants: [...participants] });
/** @param {string} participant @param {string} sideRoom */
export const sideRoomMove = (participant, sideRoom) => message('side-room-move', { participant, side_room: sideRoom });
/** @param {string[]} participants */
export const sideRoomReturn = (participants) => message('side-room-return', { participants: [...participants] });
export const endSession = () => message('end-session');
export const leave = () => message('leave');
/** Family: ask the session's staff for help; only staff are told, and the sender gets no answer. */
export const help = () => message('help');
/** @param {string} alert  the id of a help-requested */
export const helpAcknowledge = (alert) => message('help-acknowledge', { alert });
/** In the call: ask for fresh ICE servers (new TURN credentials) before an ICE restart. */
export const iceServers = () => message('ice-servers');
/** @param {string} text  one chat line; the server trims it and relays it to everyone in your part of the call */
export const chat = (text) => message('chat', { text });
/** @param {{audio: boolean, video: boolean, screen?: boolean}} state */
export const mediaState = ({ audio, video, screen = false }) => message('media-state', { audio, video, screen });
/** @param {string} to @param {string} sdp */
export const offer = (to, sdp) => message('offer', { to, sdp });
/** @param {string} to @param {string} sdp */
export const answer = (to, sdp) => message('answer', { to, sdp });
/**
 * One trickled candidate; `null` (the end of gathering) becomes the empty candidate.
 * @param {string} to
 * @param {CandidateInit|null} init
 */
export function candidate(to, init) {
  return message('candidate', {
    to,
    candidate: init?.candidate ?? '',
    sdp_mid: init?.sdpMid ?? null,
    sdp_mline_index: init?.sdpMLineIndex ?? null,
    username_fragment: init?.usernameFragment ?? null,
  });
}
/** @param {number} nonce */
export const ping = (nonce) => message('ping', { nonce });
/** @param {number} nonce */
export const pong = (nonce) => message('pong', { nonce });

/**
 * A relayed `candidate` message as the `RTCIceCandidateInit` it carries.
 * @param {Message} received
 * @returns {CandidateInit}
 */
export function candidateInit(received) {
  return {
    candidate: received.candidate,
    sdpMid: received.sdp_mid ?? null,
    sdpMLineIndex: received.sdp_mline_index ?? null,
    usernameFragment: received.username_fragment ?? null,
  };
}

// --- incoming messages ------------------------------------------------------

/** @type {{[type: string]: {[field: string]: string}}} the fields each type needs, and their JSON types */
const REQUIRED = {
  welcome: { you: 'object', room: 'string', limits: 'object' },
  waiting: { reason: 'string' },
  'participant-waiting': { participant: 'object' },
  'participant-left-waiting': { participant: 'string', reason: 'string' },
  admitted: { participants: 'array', call: 'array', side_rooms: 'object' },
  presence: { event: 'string', participant: 'object' },
  offer: { from: 'string', sdp: 'string' },
  answer: { from: 'string', sdp: 'string' },
  candidate: { from: 'string', candidate: 'string' },
  'side-room-changed': { side_rooms: 'object', hang_up: 'array', call: 'array' },
  bitrate: { max_kbps: 'number', peers: 'number' },
  'session-ended': { reason: 'string' },
  removed: { reason: 'string' },
  'help-requested': { alert: 'string', participant: 'object', pending: 'number' },
  'help-acknowledged': { alert: 'string', participant: 'string', pending: 'number' },
  'time-warning': { planned_end: 'string', minutes_left: 'number' },
  chat: { from: 'string', text: 'string', at: 'string' },
  'ice-servers': { ice_servers: 'array' },
  ping: { nonce: 'number' },
  pong: { nonce: 'number' },
  error: { code: 'string' },
};

/** How long `freshIceServers` waits for the answer before the call restarts with what it has. */
export const ICE_SERVERS_TIMEOUT_MS = 3000;

/** @param {unknown} value */
function jsonType(value) {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  return typeof value;
}

/**
 * One frame from the server as a message, checked as far as this client relies on it.
 * @param {string} text
 * @returns {Message}
 */
export function parse(text) {
  let data;
  try {
    data = JSON.parse(text);
  } catch {
    throw new ProtocolError('The server sent a frame that is not JSON.');
  }
  if (jsonType(data) !== 'object') throw new ProtocolError('The server sent JSON that is not an object.');
  if (data.v !== PROTOCOL_VERSION) throw new ProtocolError(`The server speaks protocol version ${data.v}.`);
  if (!SERVER_TYPES.includes(data.type)) throw new ProtocolError(`Unknown message type ${JSON.stringify(data.type)}.`);
  for (const [field, kind] of Object.entries(REQUIRED[data.type] ?? {})) {
    if (jsonType(data[field]) !== kind) {
      throw new ProtocolError(`A ${data.type} message needs ${field} as ${kind}, got ${jsonType(data[field])}.`);
    }
  }
  return data;
}

// --- a small event emitter (EventTarget would need DOM events in Node) -------

/** Handlers by event name; a failing handler is reported as `listener-error` and never stops the others. */
export class Emitter {
  constructor() {
    /** @type {Map<string, Set<(value: any) => void>>} */
    this._handlers = new Map();
  }

  /**
   * Call `handler` for every `type` event; returns a function that stops it.
   * @param {string} type
   * @param {(value: any) => void} handler
   * @returns {() => void}
   */
  on(type, handler) {
    let handlers = this._handlers.get(type);
    if (!handlers) this._handlers.set(type, (handlers = new Set()));
    handlers.add(handler);
    return () => handlers?.delete(handler);
  }

  /**
   * @param {string} type
   * @param {any} [value]
   */
  emit(type, value) {
    for (const handler of [...(this._handlers.get(type) ?? [])]) {
      try {
        handler(value);
      } catch (error) {
        // One failing listener must not stop the others, nor the socket's read loop.
        if (type !== 'listener-error') this.emit('listener-error', { type, error });
      }
    }
  }
}

// --- the client -------------------------------------------------------------

/**
 * @typedef {object} SocketLike  the part of WebSocket the client uses
 * @property {number} readyState
 * @property {(data: string) => void} send
 * @property {(code?: number, reason?: string) => void} close
 * @property {((event: any) => void)|null} onopen
 * @property {((event: {data: any}) => void)|null} onmessage
 * @property {((event: {code: number, reason: string}) => void)|null} onclose
 * @property {((event: any) => void)|null} onerror
 *
 * @typedef {object} Timers
 * @property {(fn: () => void, ms: number) => any} setTimeout
 * @property {(handle: any) => void} clearTimeout
 * @property {(fn: () => void, ms: number) => any} setInterval
 * @property {(handle: any) => void} clearInterval
 * @property {() => number} now
 *
 * @typedef {object} Backoff  reconnection delays: base * 2^attempt, at most max, times a jitter in [0.5, 1)
 * @property {number} baseMs
 * @property {number} maxMs
 *
 * @typedef {'idle'|'connecting'|'joined'|'reconnecting'|'closed'} ClientState
 *
 * @typedef {object} ClientOptions
 * @property {string} url             wss://host/ws, with ?session=<id> for staff
 * @property {string} token           the access or join token from the page's link
 * @property {string|null} [resumeToken] a resume token kept from an earlier page load, tried first
 * @property {(url: string) => SocketLike} [openSocket]
 * @property {Timers} [timers]
 * @property {Backoff} [backoff]
 * @property {() => number} [random]
 */

const OPEN = 1;

/** @type {Timers} */
const DEFAULT_TIMERS = {
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (handle) => globalThis.clearTimeout(handle),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (handle) => globalThis.clearInterval(handle),
  now: () => Date.now(),
};

export const DEFAULT_BACKOFF = Object.freeze({ baseMs: 250, maxMs: 10_000 });

/**
 * The delay before reconnection attempt `attempt` (0 for the first).
 * @param {number} attempt
 * @param {Backoff} backoff
 * @param {number} random  in [0, 1)
 */
export function backoffDelay(attempt, backoff, random) {
  const ceiling = Math.min(backoff.maxMs, backoff.baseMs * 2 ** Math.min(attempt, 20));
  return Math.round(ceiling * (0.5 + random / 2));
}

/**
 * Whether a socket that closed with `code` should be opened again.
 * @param {number} code
 * @param {{leaving: boolean, usedResumeToken: boolean}} context
 */
export function shouldReconnect(code, { leaving, usedResumeToken }) {
  if (leaving) return false;
  if (code === NOT_AUTHENTICATED) return usedResumeToken; // then again with the link's own token
  return !FINAL_CLOSE_CODES.includes(code);
}

/**
 * One participant's signalling connection. Events: every message type by name
 * (`on('offer', ...)`), `message` for all of them, `state` (a ClientState),
 * `closed` ({code, reason, final}) each time a socket closes, and
 * `protocol-error` for frames that do not follow the protocol.
 */
export class SignalingClient extends Emitter {
  /** @param {ClientOptions} options */
  constructor({
    url, token, resumeToken = null, openSocket, timers = DEFAULT_TIMERS, backoff = DEFAULT_BACKOFF, random = Math.random,
  }) {
    super();
    this.url = url;
    this.token = token;
    this.openSocket = openSocket ?? ((/** @type {string} */ target) => /** @type {SocketLike} */ (new WebSocket(target)));
    this.timers = timers;
    this.backoff = backoff;
    this.random = random;
    /** @type {SocketLike|null} the socket in use; tests close it to simulate a dropped connection */
    this.socket = null;
    /** @type {ClientState} */
    this.state = 'idle';
    /** @type {string|null} handed out in welcome: lets this participant back in after the link's token expired */
    this.resumeToken = resumeToken;
    /** @type {ParticipantView|null} */
    this.you = null;
    this.attempt = 0;
    this.connections = 0; // sockets opened so far, for tests and diagnostics
    this._leaving = false;
    this._usedResumeToken = false;
    this._lastHeard = 0;
    this._lastPing = 0;
    this._nonce = 0;
    /** @type {any} */
    this._retry = null;
    /** @type {any} */
    this._watchdog = null;
  }

  /** Open the connection; it reconnects by itself until `leave()`, `stop()` or a final close. */
  start() {
    if (this.state !== 'idle') return;
    this._watchdog = this.timers.setInterval(() => this._checkLiveness(), 1000);
    this._open();
  }

  /**
   * Send one message; false when there is no open socket (signalling is not queued:
   * after a reconnection the call starts its negotiations afresh).
   * @param {Message} outgoing
   */
  send(outgoing) {
    if (!this.socket || this.socket.readyState !== OPEN) return false;
    this.socket.send(JSON.stringify(outgoing));
    return true;
  }

  /**
   * Ask the server for fresh ICE servers before an ICE restart (docs/protocol.md, `ice-servers`).
   * Resolves to `{iceServers, expiresAt}` (`expiresAt` in ms since the epoch, null without TURN), or to
   * null when there is no open socket, the server refuses (not in the call, asked too often) or does not
   * answer in time: the restart then goes ahead with the servers it already has.
   *
   * An ICE restart follows a network change (Wi-Fi to mobile data), which leaves this socket bound to an
   * address that is gone: nothing it sends arrives, and the silence timeout would notice only after 20 s,
   * while the restart's offer needs signalling now. So when nothing at all came back within the timeout,
   * the socket is given up at once and another opened (the call then negotiates afresh).
   * @param {{timeoutMs?: number}} [options]
   * @returns {Promise<{iceServers: any[], expiresAt: number|null}|null>}
   */
  freshIceServers({ timeoutMs = ICE_SERVERS_TIMEOUT_MS } = {}) {
    return new Promise((resolve) => {
      const stops = [
        this.on('ice-servers', (received) => finish({
          iceServers: received.ice_servers,
          expiresAt: typeof received.expires_at === 'number' ? received.expires_at * 1000 : null,
        })),
        this.on('error', (received) => { if (received.refused === 'ice-servers') finish(null); }),
        this.on('closed', () => finish(null)),
      ];
      const askedAt = this.timers.now();
      const askedOn = this.socket;
      const timer = this.timers.setTimeout(() => {
        finish(null);
        if (askedOn && askedOn === this.socket && this._lastHeard <= askedAt) this._giveUp(askedOn, 'no-answer');
      }, timeoutMs);
      /** @param {{iceServers: any[], expiresAt: number|null}|null} result */
      const finish = (result) => {
        for (const stop of stops) stop();
        this.timers.clearTimeout(timer);
        resolve(result);
      };
      if (!this.send(iceServers())) finish(null);
    });
  }

  /** Leave the session on purpose: no reconnection. */
  leave() {
    this.send(leave());
    this._leaving = true;
    this.stop();
  }

  /** Close for good without telling the server (it will count this participant as dropped). */
  stop() {
    this._leaving = true;
    this.timers.clearTimeout(this._retry);
    this.timers.clearInterval(this._watchdog);
    const socket = this.socket;
    this.socket = null;
    if (socket) {
      this._detach(socket);
      socket.close(1000, 'left');
    }
    this._setState('closed');
  }

  _open() {
    this._setState(this.connections === 0 ? 'connecting' : 'reconnecting');
    this.connections += 1;
    const socket = this.openSocket(this.url);
    this.socket = socket;
    this._lastHeard = this.timers.now();
    socket.onopen = () => {
      this._usedResumeToken = this.resumeToken !== null;
      socket.send(JSON.stringify(hello(this.resumeToken ?? this.token)));
    };
    socket.onmessage = (event) => this._receive(event.data);
    socket.onclose = (event) => this._closed(socket, event.code, event.reason);
    socket.onerror = () => {}; // a close event always follows
  }

  /** @param {any} data */
  _receive(data) {
    this._lastHeard = this.timers.now();
    let received;
    try {
      received = parse(typeof data === 'string' ? data : String(data));
    } catch (error) {
      this.emit('protocol-error', error);
      return;
    }
    if (received.type === 'ping') this.send(pong(received.nonce));
    if (received.type === 'welcome') {
      this.attempt = 0;
      this.you = received.you;
      if (typeof received.resume === 'string' && received.resume !== this.resumeToken) {
        this.resumeToken = received.resume;
        this.emit('resume-token', received.resume);
      }
      this._setState('joined');
    }
    if (FINAL_MESSAGES.has(received.type)) this._leaving = true;
    this.emit(received.type, received);
    this.emit('message', received);
  }

  /**
   * @param {SocketLike} socket
   * @param {number} code
   * @param {string} reason
   */
  _closed(socket, code, reason) {
    if (socket !== this.socket) return;
    this._detach(socket);
    this.socket = null;
    const reconnect = shouldReconnect(code, { leaving: this._leaving, usedResumeToken: this._usedResumeToken });
    if (code === NOT_AUTHENTICATED && this._usedResumeToken) this.resumeToken = null;
    this.emit('closed', { code, reason, final: !reconnect });
    if (!reconnect) {
      this.timers.clearInterval(this._watchdog);
      this._setState('closed');
      return;
    }
    this._setState('reconnecting');
    const delay = backoffDelay(this.attempt, this.backoff, this.random());
    this.attempt += 1;
    this._retry = this.timers.setTimeout(() => this._open(), delay);
  }

  /** Ping when the server has been quiet; give the socket up when it has been silent too long. */
  _checkLiveness() {
    const socket = this.socket;
    if (!socket) return;
    const silent = this.timers.now() - this._lastHeard;
    if (silent >= SILENCE_TIMEOUT_MS) {
      this._giveUp(socket, 'heartbeat-timeout');
      return;
    }
    if (silent >= PING_AFTER_SILENCE_MS && this.timers.now() - this._lastPing >= PING_AFTER_SILENCE_MS) {
      this._lastPing = this.timers.now();
      this._nonce += 1;
      this.send(ping(this._nonce));
    }
  }

  /**
   * A dead connection may never deliver its close event: stop listening to it and open another now.
   * @param {SocketLike} socket
   * @param {string} why
   */
  _giveUp(socket, why) {
    this._closed(socket, 4008, why);
    socket.close(1000, why);
  }

  /** @param {SocketLike} socket */
  _detach(socket) {
    socket.onopen = socket.onmessage = socket.onclose = null;
    socket.onerror = () => {};
  }

  /** @param {ClientState} state */
  _setState(state) {
    if (this.state === state) return;
    this.state = state;
    this.emit('state', state);
  }
}

/**
 * The signalling URL for a page served from `origin`; staff name the session.
 * @param {string} origin  e.g. https://sessions.example.org
 * @param {string|null} [session]
 */
export function signalingUrl(origin, session = null) {
  const url = new URL('/ws', origin);
  url.protocol = url.protocol === 'http:' ? 'ws:' : 'wss:';
  if (session) url.searchParams.set('session', session);
  return url.toString();
}
