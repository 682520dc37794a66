// The staff console's pure rules and its login's token handling, against a fake server.
import assert from 'node:assert/strict';
import { readFileSync, readdirSync } from 'node:fs';
import { test } from 'node:test';

import { ApiProblem, StaffLogin, refreshDelayMs, retryAfterSeconds } from '../../web/js/console/api.js';
import {
  applyWaiting, contactFlag, lengthFits, localToIso, titleWith, totalWaiting,
} from '../../web/js/console/format.js';
import { TEXT } from '../../web/js/console/text.js';

test('the access token is refreshed a minute early, or at half its life when short', () => {
  assert.equal(refreshDelayMs(300), 240_000);
  assert.equal(refreshDelayMs(3600), 3_540_000);
  assert.equal(refreshDelayMs(60), 30_000);
  assert.equal(refreshDelayMs(0), 1000);
});

test('Retry-After is read in seconds or as a date', () => {
  assert.equal(retryAfterSeconds('120'), 120);
  assert.equal(retryAfterSeconds(null), null);
  assert.equal(retryAfterSeconds('soon'), null);
  const now = Date.parse('2026-11-23T10:00:00Z');
  assert.equal(retryAfterSeconds('Mon, 23 Nov 2026 10:01:30 GMT', now), 90);
});

test('a case is behind only for a complete week, else behind so far, else on track', () => {
  assert.equal(contactFlag({ behind: true, behind_so_far: true }), 'behind');
  assert.equal(contactFlag({ behind: false, behind_so_far: true }), 'behind-so-far');
  assert.equal(contactFlag({ behind: false, behind_so_far: false }), 'on-track');
});

test('waiting counts chime only when they rise, and bad messages change nothing', () => {
  const counts = new Map();
  assert.equal(applyWaiting(counts, { session: 's1', waiting: 1, names: ['Ana'] }), true);
  assert.equal(applyWaiting(counts, { session: 's1', waiting: 1 }), false);
  assert.equal(applyWaiting(counts, { session: 's2', waiting: 2 }), true);
  assert.equal(totalWaiting(counts), 3);
  assert.equal(titleWith('Case A', totalWaiting(counts)), '(3) Case A');
  assert.equal(applyWaiting(counts, { session: 's2', waiting: 0 }), false);
  assert.deepEqual([...counts], [['s1', 1]]);
  for (const bad of [null, 'x', { session: 1, waiting: 1 }, { session: 's1', waiting: -1 }, { session: 's1', waiting: 1.5 }]) {
    assert.equal(applyWaiting(counts, bad), false);
  }
  assert.deepEqual([...counts], [['s1', 1]]);
  assert.equal(titleWith('Case A', 0), 'Case A');
});

test('times typed in local time go to the API with their offset; lengths follow the kind', () => {
  const iso = localToIso('2026-12-01T10:00');
  assert.ok(iso && iso.endsWith('Z'));
  assert.equal(new Date(iso).getTime(), new Date(2026, 11, 1, 10, 0).getTime());
  assert.equal(localToIso(''), null);
  assert.equal(localToIso('not a time'), null);
  assert.ok(lengthFits('family', 60) && !lengthFits('family', 30) && !lengthFits('family', 95));
  assert.ok(lengthFits('case_discussion', 30) && !lengthFits('case_discussion', 200));
});

/** A fake server and storage around a StaffLogin. */
function fakeLogin(responses) {
  const calls = [];
  const store = new Map();
  const storage = {
    getItem: (key) => store.get(key) ?? null,
    setItem: (key, value) => store.set(key, String(value)),
    removeItem: (key) => store.delete(key),
  };
  const ended = [];
  const login = new StaffLogin({
    onEnded: (reason) => ended.push(reason),
    storage,
    fetch: async (path, init) => {
      calls.push({ path, ...init, body: init.body && JSON.parse(init.body) });
      const [status, body, headers = {}] = responses.shift();
      return new Response(body === null ? null : JSON.stringify(body), { status, headers });
    },
  });
  return { login, calls, store, ended };
}

test('the refresh token is kept for this tab only, spent once, and replaced', async () => {
  const { login, calls, store } = fakeLogin([
    [200, { access_token: 'a1', refresh_token: 'r1', expires_in: 300 }],
    [200, { access_token: 'a2', refresh_token: 'r2', expires_in: 300 }],
    [200, { id: 'w', role: 'worker' }],
  ]);
  await login.logIn('marta', 'secret');
  assert.equal(login.accessToken, 'a1');
  assert.deepEqual([...store.values()], ['r1']);
  assert.ok(login.canResume());
  await Promise.all([login.refresh(), login.refresh()]); // two callers, one request
  assert.equal(login.accessToken, 'a2');
  assert.deepEqual([...store.values()], ['r2']);
  assert.deepEqual(calls.map((c) => c.path), ['/api/auth/login', '/api/auth/refresh']);
  assert.deepEqual(calls[1].body, { refresh_token: 'r1' });
  await login.request('GET', '/api/me');
  assert.equal(calls[2].headers.Authorization, 'Bearer a2');
  assert.equal(calls[0].headers.Authorization, undefined);
  login.forget();
  assert.equal(store.size, 0);
});

test('a refused refresh forgets the spent token; a 401 on a call ends the login', async () => {
  const { login, store, ended } = fakeLogin([
    [200, { access_token: 'a1', refresh_token: 'r1', expires_in: 300 }],
    [401, { code: 'not-authenticated', detail: 'reused' }],
  ]);
  await login.logIn('marta', 'secret');
  await assert.rejects(login.refresh(), (error) => error instanceof ApiProblem && error.status === 401);
  assert.equal(store.size, 0);
  assert.deepEqual(ended, [], 'a refused refresh is the caller to handle');

  const second = fakeLogin([
    [200, { access_token: 'a1', refresh_token: 'r1', expires_in: 300 }],
    [401, { code: 'not-authenticated', detail: 'ended' }],
  ]);
  await second.login.logIn('marta', 'secret');
  await assert.rejects(second.login.request('GET', '/api/cases/overview'));
  assert.deepEqual(second.ended, ['expired']);
  assert.equal(second.login.accessToken, null);
  assert.equal(second.store.size, 0);
});

test('login problems keep their code and the wait from Retry-After', async () => {
  const { login, ended } = fakeLogin([
    [429, { code: 'too-many-attempts', detail: 'wait' }, { 'Retry-After': '300' }],
    [401, { code: 'login-failed', detail: 'wrong' }],
  ]);
  await assert.rejects(login.logIn('marta', 'x'), (e) => e.code === 'too-many-attempts' && e.retryAfter === 300);
  await assert.rejects(login.logIn('marta', 'x'), (e) => e.code === 'login-failed' && e.status === 401);
  assert.deepEqual(ended, [], 'a failed login is not an ended login');
});

test('every word the console uses is in both languages', () => {
  const folder = new URL('../../web/js/console/', import.meta.url);
  const used = new Set();
  for (const name of readdirSync(folder).filter((n) => n.endsWith('.js') && n !== 'text.js')) {
    const source = readFileSync(new URL(name, folder), 'utf8');
    for (const match of source.matchAll(/\bt\(\s*'([a-z0-9.-]+)'/g)) used.add(match[1]);
  }
  const dynamic = {
    flag: ['behind', 'behind-so-far', 'on-track'], kind: ['family', 'individual', 'case_discussion'],
    risk: ['high', 'medium', 'low'], role: ['guardian', 'child', 'other'], status: ['scheduled', 'live', 'ended', 'cancelled'],
    'staff-role': ['worker', 'supervisor', 'admin'], who: ['family', 'staff'], language: ['pt', 'en'],
    'language.name': ['pt', 'en'], audit: ['case-record', 'case-export', 'session-record', 'session-notes'],
    nav: ['cases', 'team', 'follow-ups', 'alerts', 'audit', 'staff'],
    error: ['login-failed', 'not-found', 'conflict', 'forbidden', 'invalid-field', 'record-erased', 'network',
      'not-authenticated', 'body-too-large', 'malformed-request', 'other'],
  };
  for (const [prefix, names] of Object.entries(dynamic)) names.forEach((n) => used.add(`${prefix}.${n}`));
  assert.ok(used.size > 150, `found only ${used.size} keys: is the pattern still right?`);
  for (const language of ['pt', 'en']) {
    const missing = [...used].filter((key) => !(key in TEXT[language]));
    assert.deepEqual(missing, [], `missing in ${language}`);
  }
  assert.deepEqual(Object.keys(TEXT.pt).sort(), Object.keys(TEXT.en).sort());
});
