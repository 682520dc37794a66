// @ts-check
/**
 * Camera and microphone for the preview: ask for both, and when that fails say why in the
 * person's terms (blocked, in use by another app, or not there) and get whatever part works.
 * The classification is pure, for Node's tests; `openMedia` is the browser part.
 */

/** @typedef {'denied'|'busy'|'no-camera'|'no-microphone'|'no-devices'|null} MediaProblem */

/**
 * What a getUserMedia error means for the person.
 * @param {string} errorName  DOMException name
 * @returns {'denied'|'busy'|'missing'}
 */
export function problemOf(errorName) {
  if (errorName === 'NotAllowedError' || errorName === 'SecurityError') return 'denied';
  if (errorName === 'NotReadableError' || errorName === 'AbortError') return 'busy';
  return 'missing'; // NotFoundError, OverconstrainedError, TypeError without mediaDevices
}

/**
 * The problem left once each device was tried alone.
 * @param {boolean} audio  a microphone works
 * @param {boolean} video  a camera works
 * @returns {MediaProblem}
 */
export function missingProblem(audio, video) {
  if (audio && video) return null;
  if (audio) return 'no-camera';
  if (video) return 'no-microphone';
  return 'no-devices';
}

/** @param {MediaStreamConstraints} constraints */
async function ask(constraints) {
  if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error('no mediaDevices'), { name: 'NotFoundError' });
  return navigator.mediaDevices.getUserMedia(constraints);
}

/**
 * Camera and microphone together, else what works alone; the problem to explain, if any.
 * @returns {Promise<{stream: MediaStream|null, problem: MediaProblem}>}
 */
export async function openMedia() {
  try {
    return { stream: await ask({ video: { width: 640, height: 480 }, audio: true }), problem: null };
  } catch (error) {
    const problem = problemOf(/** @type {Error} */ (error).name);
    if (problem !== 'missing') return { stream: null, problem };
  }
  /** @type {MediaStream|null} */
  let stream = null;
  for (const constraints of [{ audio: true }, { video: { width: 640, height: 480 } }]) {
    try {
      const part = await ask(constraints);
      if (stream) for (const track of part.getTracks()) stream.addTrack(track);
      else stream = part;
    } catch {
      // That device is not there either.
    }
  }
  const audio = Boolean(stream?.getAudioTracks().length);
  const video = Boolean(stream?.getVideoTracks().length);
  return { stream, problem: missingProblem(audio, video) };
}
