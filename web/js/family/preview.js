// @ts-check
/**
 * The camera and microphone check before the call: the person sees themself, a level meter
 * moves when the microphone hears them (Web Audio AnalyserNode), and when something is
 * blocked or missing the page says exactly how to fix it or how to join with what works.
 */

import { onQuickExit, stopOnQuickExit } from '../quick-exit.js';
import { loudness, smooth } from './level.js';
import { openMedia } from './media.js';
import { el, t } from './ui.js';

/** The live part of the preview: its stream, meter loop and audio context, stopped together. */
export class Preview {
  /** @param {HTMLElement} container  where the video, meter and messages go */
  constructor(container) {
    this.container = container;
    /** @type {MediaStream|null} */
    this.stream = null;
    /** @type {AudioContext|null} */
    this.audio = null;
    this.frame = 0;
    /** @type {import('./media.js').MediaProblem} */
    this.problem = null;
    this.video = el('video', { muted: true, autoplay: true, playsInline: true, className: 'self-view' });
    // Attributes too: iOS Safari reads them for inline, silent playback.
    for (const name of ['muted', 'autoplay', 'playsinline']) this.video.setAttribute(name, '');
    this.video.setAttribute('aria-label', t('yourCamera'));
    this.meter = el('meter', { id: 'mic-level', min: 0, max: 1, low: 0.15, optimum: 0.5, value: 0 });
    this.meterLabel = el('label', { htmlFor: 'mic-level', textContent: t('micLevel') });
    this.peak = 0;
    onQuickExit(() => this.stop());
  }

  /** Ask for the devices (again) and start showing them; resolves with the problem, if any. */
  async start() {
    this.stop();
    const { stream, problem } = await openMedia();
    this.stream = stream;
    this.problem = problem;
    if (stream) {
      stopOnQuickExit(stream);
      this.video.srcObject = stream;
      this.video.hidden = stream.getVideoTracks().length === 0;
      this.video.play().catch(() => {}); // muted, so allowed; a refusal only leaves the first frame
      if (stream.getAudioTracks().length) this.listen(stream);
    }
    return problem;
  }

  /**
   * Feed the microphone to an AnalyserNode and move the meter every frame.
   * @param {MediaStream} stream
   */
  listen(stream) {
    const Context = window.AudioContext ?? /** @type {any} */ (window).webkitAudioContext;
    if (!Context) return;
    const audio = new Context();
    this.audio = audio;
    const analyser = audio.createAnalyser();
    analyser.fftSize = 1024;
    audio.createMediaStreamSource(stream).connect(analyser);
    // A context made without a recent tap starts suspended; the next touch or key wakes it.
    const wake = () => { if (audio.state === 'suspended') audio.resume().catch(() => {}); };
    wake();
    for (const type of ['pointerdown', 'keydown']) document.addEventListener(type, wake, { once: true });
    const samples = new Uint8Array(analyser.fftSize);
    let shown = 0;
    const tick = () => {
      analyser.getByteTimeDomainData(samples);
      shown = smooth(shown, loudness(samples));
      this.meter.value = shown;
      this.peak = Math.max(this.peak, shown);
      this.meter.dataset.peak = this.peak.toFixed(3);
      this.frame = requestAnimationFrame(tick);
    };
    tick();
  }

  /** Stop the camera, the microphone and the meter: the call page asks for its own. */
  stop() {
    cancelAnimationFrame(this.frame);
    this.audio?.close().catch(() => {});
    this.audio = null;
    for (const track of this.stream?.getTracks() ?? []) track.stop();
    this.stream = null;
    this.video.srcObject = null;
  }

  /**
   * The preview's elements for the current state: the picture, the meter, and a fix when needed.
   * @param {() => void} retry
   * @param {(key: string) => string} [w]  the words, a child's where the table has them
   * @returns {HTMLElement[]}
   */
  view(retry, w = t) {
    this.video.setAttribute('aria-label', t('yourCamera'));
    this.meterLabel.textContent = t('micLevel');
    const parts = [];
    const hasAudio = Boolean(this.stream?.getAudioTracks().length);
    if (this.stream?.getVideoTracks().length) parts.push(el('div', { className: 'self-frame' }, this.video));
    if (hasAudio) parts.push(el('div', { className: 'level' }, this.meterLabel, this.meter), el('p', { className: 'hint', textContent: w('micQuiet') }));
    const fix = this.fix(retry);
    if (fix) parts.push(fix);
    return parts;
  }

  /**
   * What to do when something is blocked or missing; null when all works.
   * @param {() => void} retry
   */
  fix(retry) {
    const again = el('button', { type: 'button', className: 'secondary', id: 'retry-media', textContent: t('tryAgain') });
    again.addEventListener('click', retry);
    switch (this.problem) {
      case null:
        return null;
      case 'denied':
        return el('section', { className: 'fix', id: 'media-fix', role: 'alert' },
          el('h2', { textContent: t('deniedTitle') }),
          el('p', { textContent: t('deniedText') }),
          el('ol', {}, ...['deniedStep1', 'deniedStep2', 'deniedStep3'].map((key) => el('li', { textContent: t(key) }))),
          again);
      case 'busy':
        return el('section', { className: 'fix', id: 'media-fix', role: 'alert' }, el('p', { textContent: t('deviceBusy') }), again);
      default: {
        const words = { 'no-camera': 'noCamera', 'no-microphone': 'noMicrophone', 'no-devices': 'noDevices' }[this.problem];
        return el('section', { className: 'fix', id: 'media-fix', role: 'status' }, el('p', { textContent: t(words) }), again);
      }
    }
  }

  /** Whether joining now would leave out what the fix above could still bring back. */
  blocked() {
    return this.problem === 'denied' || this.problem === 'busy';
  }

  /**
   * The words of the join button: what the person will join with.
   * @param {(key: string) => string} [w]  the words, a child's where the table has them
   */
  joinLabel(w = t) {
    if (this.problem === 'denied' || this.problem === 'no-devices' || this.problem === 'busy') return t('joinWithoutDevices');
    if (this.problem === 'no-camera') return t('joinSoundOnly');
    return w('join');
  }
}
