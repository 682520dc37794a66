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
import { runConnectionTest, testsNow } from './connection-test.js';
import { familyHelp, staffAlerts } from './help.js';
import { showEvaluation } from './evaluation.js';
import { ChatPanel } from './chat.js';
import { WaitingAlert, pageTitle, unlockSoundOnFirstGesture } from './waiting-alert.js';
import { installQuickExit, onQuickExit } from './quick-exit.js';

/** @typedef {import('./protocol.js').ParticipantView} ParticipantView */

document.documentElement.lang = language;

/** @param {string} id */
function element(id) {
  const found = document.getElementById(id);
  if (!found) throw new Error(`call.html has no #${id}`);
  return found;
}

pageTitle.setBase(t('pageTitle'));
unlockSoundOnFirstGesture();

const status = element('status');
const connection = element('connection');
const plan = element('plan');
const timer = element('timer');
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
const audioOnlyButton = /** @type {HTMLButtonElement} */ (element('audio-only'));
const quickExitButton = /** @type {HTMLButtonElement} */ (element('quick-exit'));
const peopleToggle = /** @type {HTMLButtonElement} */ (element('people-toggle'));
const safetyToggle = /** @type {HTMLButtonElement} */ (element('safety-toggle'));
const chatToggle = /** @type {HTMLButtonElement} */ (element('chat-toggle'));
const chatSave = /** @type {HTMLButtonElement} */ (element('chat-save'));
const peopleSection = element('people');
const peopleList = element('people-list');
const safetySection = element('safety');
const safetyList = element('safety-list');
const tileTemplate = /** @type {HTMLTemplateElement} */ (element('tile-template'));

/**
 * Set a control's visible words; controls with an icon keep it and change their `.label` only.
 * @param {HTMLElement} control
 * @param {string} text
 */
function label(control, text) {
  const words = control.querySelector('.label');
  if (words) words.textContent = text;
  else control.textContent = text;
}

element('page-title').textContent = t('pageTitle');
element('waiting-title').textContent = t('waitingList');
label(soundButton, t('enableSound'));
label(leaveButton, t('leave'));
label(endButton, t('endSession'));
label(togetherButton, t('together'));
label(screenButton, t('shareScreen'));
label(quickExitButton, t('quickExit'));
label(peopleToggle, t('people'));
label(safetyToggle, t('safetyCheck'));
label(chatToggle, t('chat'));
label(chatSave, t('chatSave'));
controls.setAttribute('aria-label', t('controlsLabel'));
tiles.setAttribute('aria-label', t('videoLabel'));
element('people-title').textContent = t('peopleTitle');
element('safety-title').textContent = t('safetyTitle');
element('safety-explain').textContent = t('safetyExplain');
element('chat-title').textContent = t('chatTitle');
element('chat-label').textContent = t('chatLabel');
label(element('chat-send'), t('chatSend'));
/** The buttons that only mean something inside the call. */
const inCallOnly = [audioOnlyButton, peopleToggle, safetyToggle, chatToggle];
for (const button of inCallOnly) button.hidden = true;

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

/** @param {string} id  the name alone, as the chat and the console show it */
function plainName(id) {
  return people.get(id)?.name ?? id;
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

// --- the session clock (host) -----------------------------------------------------

/** @param {number} ms  as minutes and seconds, "75:04": a session is counted in minutes, never in hours */
function minutesAndSeconds(ms) {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`;
}

/**
 * What the host's timer shows: time in the call against the planned length, and the minutes left
 * of the plan once five or fewer remain (the server's time-warning says the same).
 * @param {number} now           ms since the epoch
 * @param {number} since         when the host's call began (ms)
 * @param {number} plannedStart  ms
 * @param {number} plannedEnd    ms
 */
function timerView(now, since, plannedStart, plannedEnd) {
  const text = t('timer', { elapsed: minutesAndSeconds(now - since), planned: minutesAndSeconds(plannedEnd - plannedStart) });
  const left = plannedEnd - now;
  if (left <= 0) return { text: `${text} · ${t('timeUp')}`, warning: true };
  if (left <= 5 * 60_000) return { text: `${text} · ${t('timerLeft', { minutes: Math.ceil(left / 60_000) })}`, warning: true };
  return { text, warning: false };
}

/** @param {string} iso */
function clock(iso) {
  return new Date(iso).toLocaleTimeString(language === 'pt' ? 'pt-PT' : 'en-GB', { hour: '2-digit', minute: '2-digit' });
}

// --- the session -------------------------------------------------------------

async function main() {
  const credentials = takeCredentials();
  let sessionOver = false; // set by finish(): nothing more is sent for this session from this page
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
  const chat = new ChatPanel({
    panel: element('chat'),
    log: element('chat-log'),
    form: /** @type {HTMLFormElement} */ (element('chat-form')),
    input: /** @type {HTMLTextAreaElement} */ (element('chat-input')),
    note: element('chat-note'),
    toggle: chatToggle,
    badge: element('chat-badge'),
  }, { client, t, language, nameOf: plainName, build: protocol.chat });
  const waitingAlert = new WaitingAlert({ titlePart: (count) => t('waitingTitle', { count }) });
  /** @type {Map<string, string>} everyone in the host's waiting room: id -> name */
  const waitingNow = new Map();
  // Tests drive the page through these, as the buttons would; nothing secret is reachable here that a page script could not reach anyway.
  Object.assign(window, { telepractice: { client, call, people, startedAt, quality, chat, waitingAlert } });

  const local = tileFor('self', t('you'), true);
  local.video.srcObject = localStream;
  play(local.video);

  // While video is paused (quality.js) or off by choice (audio only), the others see the camera as off.
  const sendMedia = () => client.send(protocol.mediaState({
    ...media, video: media.video && !quality.audioOnly && !call.audioOnly,
  }));
  quality.on('audio-only', (paused) => {
    showStatus(t(paused ? 'weakConnection' : 'videoBack'));
    sendMedia();
  });
  const renderControls = () => {
    label(micButton, media.audio ? t('micOn') : t('micOff'));
    micButton.setAttribute('aria-pressed', String(!media.audio));
    label(cameraButton, media.video ? t('cameraOn') : t('cameraOff'));
    cameraButton.setAttribute('aria-pressed', String(!media.video));
    label(screenButton, media.screen ? t('stopScreen') : t('shareScreen'));
    label(audioOnlyButton, call.audioOnly ? t('audioOnlyOn') : t('audioOnlyOff'));
    audioOnlyButton.setAttribute('aria-pressed', String(call.audioOnly));
    local.tile.classList.toggle('camera-off', !media.video || call.audioOnly);
    tiles.classList.toggle('audio-only', call.audioOnly);
  };
  renderControls();

  micButton.addEventListener('click', () => {
    media.audio = !media.audio;
    for (const track of localStream.getAudioTracks()) track.enabled = media.audio;
    renderControls();
    sendMedia();
    renderPeople();
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
      renderPeople();
    }
  });

  // Audio only: nothing of video goes either way, which a poor connection needs most; and back.
  audioOnlyButton.addEventListener('click', () => {
    call.setAudioOnly(!call.audioOnly);
    showStatus(call.audioOnly ? t('audioOnlyStatus') : t('in-call'));
    renderControls();
    sendMedia();
    renderPeople();
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

  // A family member may withdraw their consent at any moment, from the call itself (the "who is here" panel):
  // the server takes them out at once (4011) and stops their links; the record keeps the withdrawal.
  const myConsent = element('my-consent');
  const withdrawDialog = /** @type {HTMLDialogElement} */ (element('withdraw-dialog'));
  const withdrawError = element('withdraw-error');
  const withdrawConfirm = /** @type {HTMLButtonElement} */ (element('withdraw-confirm'));
  element('my-consent-title').textContent = t('myConsentTitle');
  element('my-consent-text').textContent = t('myConsentText');
  element('withdraw').textContent = t('withdraw');
  element('withdraw-title').textContent = t('withdrawTitle');
  element('withdraw-text').textContent = t('withdrawText');
  element('withdraw-cancel').textContent = t('withdrawCancel');
  withdrawConfirm.textContent = t('withdrawConfirm');
  client.on('welcome', () => { myConsent.hidden = !isFamily; });
  element('withdraw').addEventListener('click', () => {
    withdrawError.textContent = '';
    withdrawDialog.showModal();
  });
  element('withdraw-cancel').addEventListener('click', () => withdrawDialog.close());
  withdrawConfirm.addEventListener('click', async () => {
    withdrawConfirm.disabled = true;
    withdrawError.textContent = '';
    try {
      // The personal link's own token: consent belongs to the link, not to this connection's resume token.
      const response = await fetch('/api/join/consent/withdraw', {
        method: 'POST', cache: 'no-store', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ token: credentials.token }),
      });
      if (!response.ok) throw new Error(`${response.status}`);
      evaluated = true; // nothing more is asked of someone who has withdrawn
      withdrawDialog.close();
      finish(t('consent-withdrawn'));
    } catch {
      withdrawError.textContent = t('withdrawFailed');
    } finally {
      withdrawConfirm.disabled = false;
    }
  });

  // The quick exit, for family members: one tap leaves the call and puts a neutral page in its place.
  let quickExitReady = false;
  function offerQuickExit() {
    quickExitButton.hidden = false;
    if (quickExitReady) return;
    quickExitReady = true;
    installQuickExit(quickExitButton);
    onQuickExit(() => {
      client.leave();
      chat.clear();
      quality.stop();
      call.close();
      for (const track of localStream.getTracks()) track.stop();
    });
  }

  // Side rooms, for the host: talk alone with one person, then bring everyone back together.
  let isHost = false;
  /** @type {string[]} everyone in a side room now */
  let apart = [];
  /** @type {string|null} the side room this page is in */
  let mySideRoom = null;
  togetherButton.addEventListener('click', () => {
    if (apart.length) client.send(protocol.sideRoomReturn(apart));
  });
  /** @param {{side_rooms: {[room: string]: string[]}, side_room: string|null}} message */
  function showSideRooms(message) {
    apart = Object.values(message.side_rooms).flat();
    mySideRoom = message.side_room ?? null;
    for (const [room, ids] of Object.entries(message.side_rooms)) {
      for (const id of ids) {
        const person = people.get(id);
        if (person) person.side_room = room;
      }
    }
    for (const person of people.values()) {
      if (!apart.includes(person.id)) person.side_room = null;
    }
    togetherButton.hidden = !isHost || apart.length === 0;
    tiles.classList.toggle('apart', apart.length > 0); // one side room at a time from this page
    if (message.side_room) showStatus(t('inSideRoom'));
    else if (!controls.hidden) showStatus(t('in-call'));
    renderPeople();
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
    sessionOver = true;
    testStop?.abort(); // nothing more is sent for this session, the connection test's result included
    storeCredentials(null); // over for this page: a reload must not rejoin
    quality.stop();
    call.close();
    for (const track of localStream.getTracks()) track.stop();
    controls.hidden = true;
    waitingSection.hidden = true;
    peopleSection.hidden = true;
    safetySection.hidden = true;
    timer.hidden = true;
    connection.hidden = true;
    clearInterval(ticking);
    waitingNow.clear();
    waitingAlert.close();
    inCall.clear();
    // The worker may still keep the chat in the record; for anyone else it goes with the page.
    element('chat-form').hidden = true; // nobody is left to read a new line
    if (isHost && chat.transcript.lines.length) chat.setOpen(true);
    else chat.clear();
    showStatus(text);
  }

  // --- who is in the call ---

  /** @type {Set<string>} the others in the call (connected or dropped and due back) */
  const inCall = new Set();

  function renderPeople() {
    const self = client.you;
    const rows = [];
    if (self) rows.push({ ...self, audio: media.audio, video: media.video && !call.audioOnly, side_room: mySideRoom, connected: true });
    for (const id of inCall) {
      const person = people.get(id);
      if (person) rows.push(person);
    }
    peopleList.replaceChildren(...rows.map((person) => {
      const item = document.createElement('li');
      item.dataset.participant = person.id;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = person.id === self?.id ? `${t('you')} (${plainName(person.id)})` : nameOf(person.id);
      const notes = [];
      if (person.role === 'host') notes.push(t('roleHost'));
      else if (person.role === 'staff') notes.push(t('roleStaff'));
      if (!person.audio) notes.push(t('micOffShort'));
      if (!person.video) notes.push(t('cameraOffShort'));
      if ((person.side_room ?? null) !== mySideRoom) notes.push(t('apartShort'));
      if (person.connected === false) notes.push(t('droppedShort'));
      item.classList.toggle('muted', !person.audio);
      item.classList.toggle('apart', (person.side_room ?? null) !== mySideRoom);
      const state = document.createElement('span');
      state.className = 'state';
      state.textContent = notes.join(', ');
      item.append(name, ' ', state);
      return item;
    }));
    label(peopleToggle, `${t('people')} (${rows.length})`);
  }

  // --- the safety code, on request ---

  /** @type {Map<string, string>} peer -> safety code */
  const codes = new Map();
  function renderSafety() {
    const others = [...inCall].filter((id) => (people.get(id)?.side_room ?? null) === mySideRoom);
    if (others.length === 0) {
      const none = document.createElement('li');
      none.textContent = t('safetyNobody');
      safetyList.replaceChildren(none);
      return;
    }
    safetyList.replaceChildren(...others.map((id) => {
      const item = document.createElement('li');
      item.dataset.participant = id;
      const name = document.createElement('span');
      name.className = 'name';
      name.textContent = nameOf(id);
      const code = document.createElement('span');
      code.className = 'code';
      code.textContent = codes.get(id) ?? t('safetyPending');
      item.append(name, ' ', code);
      return item;
    }));
  }

  /**
   * One of the side panels (people, safety code) open or closed by its button.
   * @param {HTMLButtonElement} toggle
   * @param {HTMLElement} section
   * @param {() => void} render
   */
  function panelToggle(toggle, section, render) {
    toggle.addEventListener('click', () => {
      section.hidden = !section.hidden;
      toggle.setAttribute('aria-expanded', String(!section.hidden));
      if (!section.hidden) render();
      tiles.classList.toggle('show-codes', !safetySection.hidden);
    });
  }
  panelToggle(peopleToggle, peopleSection, renderPeople);
  panelToggle(safetyToggle, safetySection, renderSafety);

  // --- the host's chat save ---

  chatSave.addEventListener('click', async () => {
    const batches = chat.transcript.forRecord();
    if (batches.length === 0) {
      chat.say(t('chatNothing'));
      return;
    }
    chatSave.disabled = true;
    try {
      let saved = { lines: [] };
      for (const body of batches) {
        const response = await fetch(`/api/sessions/${encodeURIComponent(sessionId ?? '')}/record/chat`, {
          method: 'POST',
          headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${client.resumeToken ?? credentials.token}` },
          body: JSON.stringify(body),
        });
        if (!response.ok) throw new Error(`${response.status}`);
        saved = await response.json();
      }
      chat.say(t('chatSaved', { count: saved.lines.length }));
    } catch {
      chat.say(t('chatSaveFailed'));
    } finally {
      chatSave.disabled = false;
    }
  });

  // --- the connection, said calmly ---

  let lostAt = 0;
  /** @type {any} */
  let hideConnection = 0;
  /** @param {string} text @param {boolean} lost */
  function showConnection(text, lost) {
    clearTimeout(hideConnection);
    connection.textContent = text;
    connection.hidden = false;
    connection.classList.toggle('back', !lost);
    if (!lost) hideConnection = setTimeout(() => { connection.hidden = true; }, 8000);
  }
  client.on('state', (state) => {
    if (state === 'reconnecting' && !controls.hidden) {
      lostAt = Date.now();
      showConnection(t('reconnecting'), true);
    } else if (state === 'joined' && lostAt) {
      lostAt = 0;
      showConnection(t('connectionBack'), false);
    }
  });
  /** @type {Set<string>} peers whose media connection is down for now */
  const mediaDown = new Set();
  call.on('peer-state', ({ peer, state }) => {
    if (state === 'disconnected' || state === 'failed') {
      mediaDown.add(peer);
      if (!lostAt) showConnection(t('mediaLost'), true);
    } else if (state === 'connected' && mediaDown.delete(peer) && mediaDown.size === 0 && !lostAt) {
      showConnection(t('connectionBack'), false);
    }
  });

  // --- the session's plan: the family's waiting room, the host's timer ---

  /** @type {string|null} */
  let sessionId = credentials.session;
  let plannedStart = NaN;
  let plannedEnd = NaN;
  /** @type {number} when this page's call began, for the host's timer */
  let callSince = NaN;
  /** @type {any} */
  let ticking = 0;
  let warned = false;
  function tick() {
    if (!isHost || Number.isNaN(plannedEnd) || Number.isNaN(callSince)) return;
    const view = timerView(Date.now(), callSince, plannedStart, plannedEnd);
    timer.hidden = false;
    /** @type {HTMLElement} */ (timer.querySelector('.timer-value')).textContent = view.text;
    timer.classList.toggle('warning', view.warning);
    if (view.warning && !warned && plannedEnd > Date.now()) {
      warned = true;
      showConnection(t('timeWarning', { minutes: Math.ceil((plannedEnd - Date.now()) / 60_000) }), false);
    }
  }
  /** @type {HTMLElement} */ (timer.querySelector('.timer-label')).textContent = `${t('timerLabel')}:`;
  client.on('time-warning', (message) => {
    const end = Date.parse(message.planned_end);
    if (!Number.isNaN(end)) plannedEnd = end;
    tick();
  });

  // --- what the server says ---

  client.on('welcome', (message) => {
    people.set(message.you.id, message.you);
    sessionId = message.room;
    // The server tells the host afresh about everyone waiting on each (re)connection.
    waitingList.replaceChildren();
    waitingSection.hidden = true;
    waitingNow.clear();
    isHost = message.you.role === 'host';
    endButton.hidden = !isHost;
    chatSave.hidden = !isHost;
    screenButton.hidden = message.you.role === 'family';
    element('chat-help').textContent = t(message.you.role === 'family' ? 'chatHelpFamily' : 'chatHelpStaff');
    if (message.you.role === 'family') offerQuickExit();
    if (typeof message.planned_start === 'string' && typeof message.planned_end === 'string') {
      plannedStart = Date.parse(message.planned_start);
      plannedEnd = Date.parse(message.planned_end);
      plan.textContent = t('plannedTime', { start: clock(message.planned_start), end: clock(message.planned_end) });
    }
  });
  client.on('waiting', (message) => {
    showStatus(t(message.reason) ?? t('awaiting-admission'));
    plan.hidden = !plan.textContent;
    for (const button of inCallOnly) button.hidden = true;
    inCall.clear();
    if (testsNow({ tested, event: 'waiting', role: client.you?.role ?? 'family', othersInCall: 0 })) {
      testConnection(false);
    }
  });

  /**
   * The connection test, once per page (connection-test.js `testsNow`): while waiting to be let in, or, for
   * staff, who never wait, on arriving in a call nobody else is in yet. A test in the call stops as soon as
   * someone joins, so it never competes with a call. It first asks for fresh ICE servers, so it tries TURN
   * as the call would; without an answer it tests without TURN.
   * Its verdict is shown and kept with the session; "audio only" starts the call without video.
   */
  let tested = false;
  /** @type {AbortController|null} stops the running test: the session is over, or someone joined the call */
  let testStop = null;
  let testingInCall = false;
  /** @param {boolean} inTheCall */
  async function testConnection(inTheCall) {
    tested = true;
    testingInCall = inTheCall;
    const stop = new AbortController();
    testStop = stop;
    connectionNote.hidden = false;
    connectionNote.textContent = t(inTheCall ? 'testingConnectionAlone' : 'testingConnection');
    const fresh = await client.freshIceServers();
    const link = /** @type {import('./credentials.js').Credentials} */ (credentials);
    const result = await runConnectionTest({
      origin: location.origin, token: client.resumeToken ?? link.token, session: link.session,
      videoTrack: localStream.getVideoTracks()[0] ?? null,
      iceServers: fresh?.iceServers ?? [],
      keepResult: () => !sessionOver,
      signal: stop.signal,
    });
    testStop = null;
    /** @type {any} */ (window).telepractice.connectionTest = result;
    if (result.refused || result.stopped) {
      connectionNote.hidden = true; // the server could not run a test now, or it was cut short: nothing to tell
      return;
    }
    connectionNote.textContent = t(`verdict-${result.verdict}`);
    if (result.verdict === 'audio-only') quality.startAudioOnly();
  }
  /** Someone else is in the call now: a test of the worker's alone stops, and its words make way for the call. */
  function someoneJoined() {
    if (!testingInCall) return;
    testStop?.abort();
    connectionNote.hidden = true;
  }
  client.on('admitted', (message) => {
    inCall.clear();
    for (const person of message.participants) {
      people.set(person.id, person);
      inCall.add(person.id);
    }
    plan.hidden = true;
    connectionNote.hidden = true;
    for (const button of inCallOnly) button.hidden = false;
    if (Number.isNaN(callSince)) callSince = Date.now();
    if (isHost && !ticking) {
      ticking = setInterval(tick, 1000);
      tick();
    }
    showStatus(t('in-call'));
    showSideRooms(message);
    sendMedia();
    const role = client.you?.role ?? 'family';
    if (testsNow({ tested, event: 'admitted', role, othersInCall: message.participants.length })) {
      testConnection(true);
    } else if (message.participants.length > 0) {
      someoneJoined();
    }
  });
  client.on('presence', (message) => {
    const id = message.participant.id;
    people.set(id, message.participant);
    if (message.event === 'left') {
      removeTiles(id);
      inCall.delete(id);
      codes.delete(id);
    } else {
      inCall.add(id);
      if (message.event === 'joined' || message.event === 'reconnected') someoneJoined();
    }
    renderPeople();
    if (!safetySection.hidden) renderSafety();
  });
  client.on('participant-waiting', (message) => {
    showWaiting(message.participant);
    waitingNow.set(message.participant.id, plainName(message.participant.id));
    alertWaiting();
  });
  client.on('participant-left-waiting', (message) => {
    waitingList.querySelector(`[data-participant="${CSS.escape(message.participant)}"]`)?.remove();
    waitingSection.hidden = waitingList.children.length === 0;
    waitingNow.delete(message.participant);
    alertWaiting();
  });
  function alertWaiting() {
    if (isHost && sessionId) waitingAlert.update(sessionId, waitingNow);
  }
  client.on('turned-away', () => finish(t('turned-away')));
  client.on('session-ended', () => finish(t('session-ended')));
  // Why someone was taken out says what happens next; a withdrawal or a stopped link asks for no evaluation.
  client.on('removed', (message) => {
    const why = message.reason === 'consent-withdrawn' || message.reason === 'link-revoked' ? message.reason : 'removed';
    if (why !== 'removed') evaluated = true;
    finish(t(why));
  });
  client.on('replaced', () => finish(t('replaced')));
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
    codes.set(peer, code);
    if (!safetySection.hidden) renderSafety();
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
