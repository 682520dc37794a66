// The safety code: the vector shared with telepractice/signaling/safety_code.py, and the SDP parsing.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { fingerprintFromSdp, safetyCode, safetyCodeOf } from '../../web/js/safety-code.js';

const hex = (bytes) => bytes.map((b) => b.toString(16).padStart(2, '0').toUpperCase()).join(':');
const ALICE = `sha-256 ${hex([...Array(32).keys()])}`;
const BOB = `sha-256 ${hex([...Array(32).keys()].map((b) => 255 - b))}`;

test('the known vector of docs/safety-code.md', async () => {
  assert.equal(await safetyCode(ALICE, BOB), '593 786');
});

test('both ends get the same code', async () => {
  assert.equal(await safetyCode(BOB, ALICE), await safetyCode(ALICE, BOB));
});

test('another certificate in the middle changes the code', async () => {
  const mallory = `sha-256 ${hex(Array(32).fill(0xab))}`;
  assert.notEqual(await safetyCode(ALICE, mallory), await safetyCode(ALICE, BOB));
});

test('the first fingerprint of a description, normalised', () => {
  const sdp = ['v=0', 'm=video 9 UDP/TLS/RTP/SAVPF 97', `a=fingerprint:SHA-256 ${ALICE.slice(8).toLowerCase()}`,
    'a=fingerprint:sha-384 AA:BB', ''].join('\r\n');
  assert.equal(fingerprintFromSdp(sdp), ALICE);
  assert.throws(() => fingerprintFromSdp('v=0\r\n'));
});

test('the sha-256 fingerprint counts even when another algorithm comes first', () => {
  const sdp = ['v=0', 'a=fingerprint:sha-384 AA:BB', `a=fingerprint:sha-256 ${ALICE.slice(8)}`, ''].join('\r\n');
  assert.equal(fingerprintFromSdp(sdp), ALICE);
  assert.equal(fingerprintFromSdp('v=0\r\na=fingerprint:sha-384 aa:bb\r\n'), 'sha-384 AA:BB');
});

test('no code until both descriptions are set', async () => {
  const description = { sdp: `a=fingerprint:${ALICE}\r\n` };
  assert.equal(await safetyCodeOf({ localDescription: description, remoteDescription: null }), null);
  const remote = { sdp: `a=fingerprint:${BOB}\r\n` };
  assert.equal(await safetyCodeOf({ localDescription: description, remoteDescription: remote }), '593 786');
});
