// @ts-check
/**
 * The safety code of one peer connection (docs/safety-code.md): six digits
 * derived from both DTLS certificate fingerprints, the same at both ends, and
 * different when anything (the signalling server included) sits in the middle.
 * No DOM: it needs only SDP text and Web Crypto's SHA-256.
 */

const FINGERPRINT_LINE = /^a=fingerprint:(\S+)\s+([0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2})+)\s*$/;

/**
 * The `a=fingerprint` of an SDP description that the code uses, normalised: the
 * algorithm in lower case, one space, the hex digits in upper case with colons.
 * The first sha-256 one, because every browser and aiortc offer sha-256 while some
 * list other algorithms too, in their own order; the first of any other algorithm
 * only when there is no sha-256 one.
 * @param {string} sdp
 * @returns {string}
 */
export function fingerprintFromSdp(sdp) {
  /** @type {string|null} */
  let first = null;
  for (const line of sdp.split(/\r?\n/)) {
    const match = FINGERPRINT_LINE.exec(line);
    if (!match) continue;
    const fingerprint = `${match[1].toLowerCase()} ${match[2].toUpperCase()}`;
    if (fingerprint.startsWith('sha-256 ')) return fingerprint;
    first ??= fingerprint;
  }
  if (first) return first;
  throw new Error('The description has no a=fingerprint line.');
}

/**
 * The code for two normalised fingerprints, shown as "123 456".
 * @param {string} localFingerprint
 * @param {string} remoteFingerprint
 * @param {SubtleCrypto} [subtle]
 * @returns {Promise<string>}
 */
export async function safetyCode(localFingerprint, remoteFingerprint, subtle = globalThis.crypto.subtle) {
  const joined = [localFingerprint, remoteFingerprint].sort().join('\n');
  const digest = new DataView(await subtle.digest('SHA-256', new TextEncoder().encode(joined)));
  const digits = String(digest.getUint32(0, false) % 1_000_000).padStart(6, '0');
  return `${digits.slice(0, 3)} ${digits.slice(3)}`;
}

/**
 * The code of a connected peer connection, from the local description and the remote description applied.
 * @param {{localDescription: {sdp: string}|null, currentRemoteDescription?: {sdp: string}|null, remoteDescription: {sdp: string}|null}} pc
 * @returns {Promise<string|null>}  null until both descriptions are there
 */
export async function safetyCodeOf(pc) {
  const local = pc.localDescription;
  const remote = pc.currentRemoteDescription ?? pc.remoteDescription;
  if (!local?.sdp || !remote?.sdp) return null;
  return safetyCode(fingerprintFromSdp(local.sdp), fingerprintFromSdp(remote.sdp));
}
