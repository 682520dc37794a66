// @ts-check
/**
 * The call page (web/call.html): a thin layer of DOM over protocol.js and call.js.
 * Reads its token from the URL fragment and wipes it from the address bar at once,
 * asks for camera and microphone, joins, and shows what the call reports.
 */

import { Call } from './call.js';
import * as protocol from './protocol.js';
import { SignalingClient, signalingUrl } from './protocol.js';
import { language, t } from './call-text.js';
import { storeCredentials, takeCredentials } from './credentials.js';
import { QualityWatch } from './quality.js';
import { runConnectionTest } from './connection-test.js';
import { familyHelp, staffAlerts } from './help.js';
import { showEvaluation } from './evaluation.js';

/** @typedef {import('./protocol.js').ParticipantView} ParticipantView */

document.documentElement.lang = language;

/** @param {string} id */
function element(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`call.html has no #${id}`);
  return found;
}

const status = element('status');
const connectionNote = element('connection-test');
const tiles = element('tiles');
const waitingSection = element('waiting');
const waitingList = element('waiting-list');
const controls = element('controls');
const micButton = /** @type {HTMLButtonElement} */ (element('mic'));
const cameraButton = /** @type {HTMLButtonElement} */ (element('camera'));
const screenButton = /** @type {HTMLButtonElement} */ (element('screen'));
const leaveButton = /** @type {HTMLButtonElement} */ (element('leave'));
const endButton = /** @type {HTMLButtonElement} */ (element('end'));
const togetherButton = /** @type {HTMLButtonElement} */ (element('together'));
const soundButton = /** @type {HTMLButtonElement} */ (element('sound'));
const tileTemplate = /** @type {HTMLTemplateElement} */ (element('tile-template'));

element('waiting-title').textContent = t('waitingList');
soundButton.textContent = t('enableSound');
leaveButton.textContent = t('leave');
endButton.textContent = t('endSession');
togetherButton.textContent = t('together');
screenButton.textContent = t('shareScreen');

/** @param {string} text */
function showStatus(text) {
  status.textContent = text;
}

/** @type {Map<string, ParticipantView>} everyone this page has heard of, by id */
const people = new Map();
const startedAt = performance.now();

/**
 * The tile of one participant's stream, made on first use.
 * @param {string} key     the participant id, or "<id>:screen" for a shared screen
 * @param {string} label
 * @param {boolean} local
 * @returns {{tile: HTMLElement, video: HTMLVideoElement}}
 */
function tileFor(key, label, local = false) {
  let tile = /** @type {HTMLElement|null} */ (tiles.querySelector(`[data-key="${CSS.escape(key)}"]`));
  if (!tile) {
    const fragment = /** @type {DocumentFragment} */ (tileTemplate.content.cloneNode(true));
    tile = /** @type {HTMLElement} */ (fragment.querySelector('.tile'));
    tile.dataset.key = key;
    if (local) tile.classList.add('local');
    const video = /** @type {HTMLVideoElement} */ (tile.querySelector('video'));
    // Set as properties and attributes: iOS Safari reads the attributes for inline playback.
    video.playsInline = video.autoplay = true;
    video.setAttribute('playsinline', '');
    video.setAttribute('autoplay', '');
    if (local) {
      video.muted = true;
      video.setAttribute('muted', '');
    }
    tiles.append(tile);
  }
  /** @type {HTMLElement} */ (tile.querySelector('.name')).textContent = label;
  return { tile, video: /** @type {HTMLVideoElement} */ (tile.querySelector('video')) };
}

/**
 * Play a remote video; where the browser refuses sound without a tap, play it muted and offer the tap.
 * @param {HTMLVideoElement} video
 */
async function play(video) {
  try {
    await video.play();
  } catch (error) {
    if (/** @type {Error} */ (error).name !== 'NotAllowedError') return;
    video.muted = true;
    soundButton.hidden = false;
    await video.play().catch(() => {});
  }
}

soundButton.addEventListener('click', () => {
  for (const video of tiles.querySelectorAll('.tile:not(.local) video')) {
    /** @type {HTMLVideoElement} */ (video).muted = false;
  }
  soundButton.hidden = true;
});

/** @param {string} id */
function nameOf(id) {
  const person = people.get(id);
  if (!person) return id;
  return person.is_minor ? `${person.name} (${t('child')})` : person.name;
}

// --- local media -------------------------------------------------------------

/** Camera and microphone, or whatever part of them works, or nothing. */
async function localMedia() {
  const attempts = [
    { video: { width: 640, height: 480 }, audio: true },
    { audio: true },
    { video: true },
  ];
  for (const constraints of attempts) {
    try {
      return await navigator.mediaDevices.getUserMedia(constraints);
    } catch {
      // try the next, smaller request
    }
  }
  showStatus(t('no-camera'));
  return new MediaStream();
}

// --- the session -------------------------------------------------------------

async function main() {
  const credentials = takeCredentials();
  if (!credentials) {
    showStatus(t('no-token'));
    return;
  }
  showStatus(t('connecting'));
  const localStream = await localMedia();
  const media = {
    audio: localStream.getAudioTracks().length > 0,
    video: localStream.getVideoTracks().length > 0,
    screen: false,
  };
  const client = new SignalingClient({
    url: signalingUrl(location.origin, credentials.session),
    token: credentials.token,
    resumeToken: credentials.resume,
  });
  client.on('resume-token', (resume) => storeCredentials({ ...credentials, resume }));
  const call = new Call({ client, localStream });
  // On a weak connection video steps down, then pauses, and comes back by itself (quality.js).
  const quality = new QualityWatch({ call });
  // Tests drive the page through these, as the buttons would; nothing secret is reachable here that a page script could not reach anyway.
  Object.assign(window, { telepractice: { client, call, people, startedAt, quality } });

  const local = tileFor('self', t('you'), true);
  local.video.srcObject = localStream;
  play(local.video);

  // While quality.js has paused the video, the others see the camera as off, and why in the status line.
  const sendMedia = () => client.send(protocol.mediaState({ ...media, video: media.video && !quality.audioOnly }));
  quality.on('audio-only', (paused) => {
    showStatus(t(paused ? 'weakConnection' : 'videoBack'));
    sendMedia();
  });
  const renderControls = () => {
    micButton.textContent = media.audio ? t('micOn') : t('micOff');
    micButton.setAttribute('aria-pressed', String(!media.audio));
    cameraButton.textContent = media.video ? t('cameraOn') : t('cameraOff');
    cameraButton.setAttribute('aria-pressed', String(!media.video));
    screenButton.textContent = media.screen ? t('stopScreen') : t('shareScreen');
    local.tile.classList.toggle('camera-off', !media.video);
  };
  renderControls();

  micButton.addEventListener('click', () => {
    media.audio = !media.audio;
    for (const track of localStream.getAudioTracks()) track.enabled = media.audio;
    renderControls();
    sendMedia();
  });

  cameraButton.addEventListener('click', async () => {
    cameraButton.disabled = true;
    try {
      if (media.video) {
        // Stopping the track turns the camera light off, which a family can see and trust.
        for (const track of localStream.getVideoTracks()) {
          track.stop();
          localStream.removeTrack(track);
        }
        await call.replaceCamera(null);
        media.video = false;
      } else {
        const camera = await navigator.mediaDevices.getUserMedia({ video: { width: 640, height: 480 } });
        const track = camera.getVideoTracks()[0];
        localStream.addTrack(track);
        await call.replaceCamera(track);
        local.video.srcObject = localStream;
        media.video = true;
      }
    } catch {
      showStatus(t('no-camera'));
    } finally {
      cameraButton.disabled = false;
      renderControls();
      sendMedia();
    }
  });

  screenButton.addEventListener('click', async () => {
    if (media.screen) {
      stopScreen();
      return;
    }
    try {
      const screen = await navigator.mediaDevices.getDisplayMedia({ video: true });
      screen.getVideoTracks()[0].addEventListener('ended', stopScreen);
      call.startScreen(screen);
      media.screen = true;
      renderControls();
      sendMedia();
    } catch {
      // The person chose not to share.
    }
  });

  function stopScreen() {
    for (const track of call.screenStream?.getTracks() ?? []) track.stop();
    call.stopScreen();
    media.screen = false;
    renderControls();
    sendMedia();
  }

  leaveButton.addEventListener('click', () => {
    client.leave();
    finish(t('removed'));
  });
  endButton.addEventListener('click', () => client.send(protocol.endSession()));

  // The safety signal (help.js): a discreet button for family members, a banner for staff; and the
  // family's evaluation (evaluation.js) once the session is over for them.
  const helpButton = /** @type {HTMLButtonElement} */ (element('help'));
  familyHelp(client, helpButton);
  staffAlerts(client, element('alerts'), nameOf);
  let isFamily = false;
  let evaluated = false;
  let resumeToken = credentials.resume;
  client.on('resume-token', (resume) => { resumeToken = resume; });
  client.on('welcome', (message) => {
    isFamily = message.you.role === 'family';
    helpButton.hidden = !isFamily;
  });
  const evaluate = () => {
    if (!isFamily || evaluated) return;
    evaluated = true;
    helpButton.hidden = true;
    showEvaluation(element('evaluation'), resumeToken ?? credentials.token);
  };
  client.on('session-ended', evaluate);
  leaveButton.addEventListener('click', evaluate);

  // Side rooms, for the host: talk alone with one person, then bring everyone back together.
  let isHost = false;
  /** @type {string[]} everyone in a side room now */
  let apart = [];
  togetherButton.addEventListener('click', () => {
    if (apart.length) client.send(protocol.sideRoomReturn(apart));
  });
  /** @param {{side_rooms: {[room: string]: string[]}, side_room: string|null}} message */
  function showSideRooms(message) {
    apart = Object.values(message.side_rooms).flat();
    togetherButton.hidden = !isHost || apart.length === 0;
    tiles.classList.toggle('apart', apart.length > 0); // one side room at a time from this page
    if (message.side_room) showStatus(t('inSideRoom'));
    else if (!controls.hidden) showStatus(t('in-call'));
  }
  client.on('side-room-changed', showSideRooms);

  /**
   * The host's "Talk alone" button on a participant's tile.
   * @param {HTMLElement} tile
   * @param {string} peer
   */
  function addTalkAlone(tile, peer) {
    if (!isHost || tile.querySelector('button.aside')) return;
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'aside';
    button.textContent = t('talkAlone');
    button.addEventListener('click', () => {
      const self = client.you?.id;
      if (self) client.send(protocol.sideRoomCreate([self, peer]));
    });
    tile.querySelector('figcaption')?.append(button);
  }

  /** @param {string} text */
  function finish(text) {
    storeCredentials(null); // over for this page: a reload must not rejoin
    quality.stop();
    call.close();
    for (const track of localStream.getTracks()) track.stop();
    controls.hidden = true;
    waitingSection.hidden = true;
    showStatus(text);
  }

  // --- what the server says ---

  client.on('welcome', (message) => {
    people.set(message.you.id, message.you);
    // The server tells the host afresh about everyone waiting on each (re)connection.
    waitingList.replaceChildren();
    waitingSection.hidden = true;
    isHost = message.you.role === 'host';
    endButton.hidden = !isHost;
    screenButton.hidden = message.you.role === 'family';
  });
  client.on('waiting', (message) => {
    showStatus(t(message.reason) ?? t('awaiting-admission'));
    testConnection();
  });

  /**
   * The connection test, once per page, while waiting to be let in (it would compete with a call in progress).
   * Its verdict is shown and kept with the session; "audio only" starts the call without video.
   */
  let tested = false;
  async function testConnection() {
    if (tested) return;
    tested = true;
    connectionNote.hidden = false;
    connectionNote.textContent = t('testingConnection');
    const link = /** @type {import('./credentials.js').Credentials} */ (credentials);
    const result = await runConnectionTest({
      origin: location.origin, token: client.resumeToken ?? link.token, session: link.session,
      videoTrack: localStream.getVideoTracks()[0] ?? null,
    });
    /** @type {any} */ (window).telepractice.connectionTest = result;
    if (result.refused) {
      connectionNote.hidden = true; // the server could not run a test now; nothing to tell
      return;
    }
    connectionNote.textContent = t(`verdict-${result.verdict}`);
    if (result.verdict === 'audio-only') quality.startAudioOnly();
  }
  client.on('admitted', (message) => {
    for (const person of message.participants) people.set(person.id, person);
    showStatus(t('in-call'));
    showSideRooms(message);
    sendMedia();
  });
  client.on('presence', (message) => {
    people.set(message.participant.id, message.participant);
    if (message.event === 'left') removeTiles(message.participant.id);
  });
  client.on('participant-waiting', (message) => showWaiting(message.participant));
  client.on('participant-left-waiting', (message) => {
    waitingList.querySelector(`[data-participant="${CSS.escape(message.participant)}"]`)?.remove();
    waitingSection.hidden = waitingList.children.length === 0;
  });
  client.on('turned-away', () => finish(t('turned-away')));
  client.on('session-ended', () => finish(t('session-ended')));
  client.on('removed', () => finish(t('removed')));
  client.on('replaced', () => finish(t('replaced')));
  client.on('state', (state) => {
    if (state === 'reconnecting') showStatus(t('reconnecting'));
  });
  client.on('closed', (event) => {
    if (!event.final || controls.hidden) return;
    finish(event.code === protocol.NOT_AUTHENTICATED ? t('not-authenticated') : t('ended'));
  });

  call.on('remote-stream', ({ peer, stream }) => {
    // A participant's first stream is their camera; another one is a screen they share.
    const cameraStream = tileStream(peer);
    const isScreen = cameraStream !== null && cameraStream !== stream.id;
    const key = isScreen ? `${peer}:screen` : peer;
    const { tile, video } = tileFor(key, isScreen ? `${t('screenOf')}: ${nameOf(peer)}` : nameOf(peer));
    tile.dataset.peer = peer;
    if (!isScreen) addTalkAlone(tile, peer);
    if (video.srcObject !== stream) {
      video.srcObject = stream;
      video.dataset.stream = stream.id;
      play(video);
    }
    stream.onremovetrack = () => {
      if (isScreen && stream.getTracks().length === 0) tile.remove();
    };
  });
  call.on('peer-closed', ({ peer }) => removeTiles(peer));
  call.on('safety-code', ({ peer, code }) => {
    const tile = tiles.querySelector(`[data-key="${CSS.escape(peer)}"]`);
    const shown = tile?.querySelector('.safety-code');
    if (shown) {
      shown.textContent = code;
      shown.setAttribute('title', t('safetyCode'));
      shown.setAttribute('aria-label', `${t('safetyCode')} ${code}`);
    }
  });

  /**
   * The stream id shown in a participant's camera tile, or null.
   * @param {string} peer
   */
  function tileStream(peer) {
    return tiles.querySelector(`[data-key="${CSS.escape(peer)}"] video`)?.getAttribute('data-stream') ?? null;
  }

  /** @param {string} peer */
  function removeTiles(peer) {
    for (const tile of tiles.querySelectorAll(`[data-peer="${CSS.escape(peer)}"]`)) tile.remove();
  }

  /** @param {ParticipantView} person */
  function showWaiting(person) {
    people.set(person.id, person);
    let item = /** @type {HTMLElement|null} */ (waitingList.querySelector(`[data-participant="${CSS.escape(person.id)}"]`));
    if (!item) {
      item = document.createElement('li');
      item.dataset.participant = person.id;
      waitingList.append(item);
    }
    item.replaceChildren();
    const name = document.createElement('span');
    name.className = 'name';
    name.textContent = nameOf(person.id);
    item.append(name);
    if (person.consent_ok === false) {
      const note = document.createElement('span');
      note.className = 'note';
      note.textContent = t('consentMissing');
      item.append(note);
    }
    const admitButton = document.createElement('button');
    admitButton.type = 'button';
    admitButton.className = 'admit';
    admitButton.textContent = t('admit');
    admitButton.disabled = person.consent_ok === false;
    admitButton.addEventListener('click', () => client.send(protocol.admit(person.id)));
    const awayButton = document.createElement('button');
    awayButton.type = 'button';
    awayButton.className = 'turn-away';
    awayButton.textContent = t('turnAway');
    awayButton.addEventListener('click', () => client.send(protocol.turnAway(person.id)));
    item.append(admitButton, awayButton);
    waitingSection.hidden = false;
  }

  client.start();
}

main();
