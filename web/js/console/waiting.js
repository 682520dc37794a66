// @ts-check
/**
 * The waiting rooms seen from the console: the call page, open in another tab,
 * posts `{session, waiting, names}` on a BroadcastChannel whenever its count
 * changes. The console keeps the counts, shows them, and chimes when one rises.
 */
import { applyWaiting, totalWaiting } from './format.js';

export const CHANNEL = 'telepractice.waiting';

export class WaitingRooms {
  /** @param {(counts: Map<string, number>, total: number) => void} onChange */
  constructor(onChange) {
    /** @type {Map<string, number>} */
    this.counts = new Map();
    this.onChange = onChange;
    /** @type {AudioContext|null} */
    this.audio = null;
    // Not every browser has BroadcastChannel in every mode: without it the counts simply stay empty.
    this.channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel(CHANNEL) : null;
    this.channel?.addEventListener('message', (event) => this.receive(event.data));
  }

  /** @param {unknown} message */
  receive(message) {
    const rose = applyWaiting(this.counts, message);
    if (rose) this.chime();
    this.onChange(this.counts, totalWaiting(this.counts));
  }

  /** @param {string} session */
  count(session) {
    return this.counts.get(session) ?? 0;
  }

  /**
   * Browsers start audio only after a gesture: the login click (or any later click) unlocks it here.
   */
  unlock() {
    try {
      this.audio ??= new AudioContext();
      if (this.audio.state === 'suspended') this.audio.resume().catch(() => {});
    } catch {
      this.audio = null; // no Web Audio: the badge and the title still show the count
    }
  }

  /** Two short soft tones, made here (no sound file to fetch). */
  chime() {
    const audio = this.audio;
    if (!audio) return;
    const start = audio.currentTime + 0.01;
    [660, 880].forEach((frequency, index) => {
      const tone = audio.createOscillator();
      const volume = audio.createGain();
      tone.type = 'sine';
      tone.frequency.value = frequency;
      const at = start + index * 0.18;
      volume.gain.setValueAtTime(0.0001, at);
      volume.gain.exponentialRampToValueAtTime(0.2, at + 0.02);
      volume.gain.exponentialRampToValueAtTime(0.0001, at + 0.16);
      tone.connect(volume).connect(audio.destination);
      tone.start(at);
      tone.stop(at + 0.17);
    });
    this.chimes = (this.chimes ?? 0) + 1;
  }

  close() {
    this.channel?.close();
    this.audio?.close().catch(() => {});
  }
}
