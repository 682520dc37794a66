// @ts-check
/**
 * The microphone level meter's maths, free of the DOM and Web Audio so Node can test it.
 * An AnalyserNode's time-domain bytes (128 = silence) become a loudness in dBFS, mapped onto
 * 0..1 so normal speech fills most of the bar; the shown value rises at once and falls slowly,
 * which reads as "it hears me" instead of flicker.
 */

/** Quieter than this shows an empty bar (room noise on a cheap phone sits around -60 dBFS). */
export const FLOOR_DB = -60;
/** How much of the shown level is kept per frame while the sound falls (about 0.3 s at 60 frames/s). */
export const RELEASE = 0.85;

/**
 * Root mean square of time-domain samples given as bytes (0..255, 128 is zero).
 * @param {ArrayLike<number>} samples
 */
export function rms(samples) {
  if (samples.length === 0) return 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i += 1) {
    const value = (samples[i] - 128) / 128;
    sum += value * value;
  }
  return Math.sqrt(sum / samples.length);
}

/**
 * Loudness on 0..1: FLOOR_DB and below is 0, full scale (0 dBFS) is 1, linear in decibels between.
 * @param {ArrayLike<number>} samples
 */
export function loudness(samples) {
  const level = rms(samples);
  if (level <= 0) return 0;
  const db = 20 * Math.log10(level);
  return Math.min(1, Math.max(0, (db - FLOOR_DB) / -FLOOR_DB));
}

/**
 * The next shown value: up at once, down by RELEASE per frame.
 * @param {number} shown  the value shown now
 * @param {number} measured  this frame's loudness
 */
export function smooth(shown, measured) {
  return measured >= shown ? measured : Math.max(measured, shown * RELEASE);
}
