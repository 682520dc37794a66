// The chat's transcript and the checks before a line is sent (web/js/chat.js), without a DOM.
import assert from 'node:assert/strict';
import { test } from 'node:test';

import { MAX_CHAT_CHARS, MAX_SAVED_LINES, SAVE_BODY_BYTES, Transcript, clockTime, draft } from '../../web/js/chat.js';
import { chat, parse } from '../../web/js/protocol.js';

const relayed = (from, text, at = '2026-11-23T22:30:00+00:00', side_room = null) => ({ from, text, at, side_room });

test('a typed line is trimmed, and an empty or too long one is not sent', () => {
  assert.deepEqual(draft('  Olá!\n'), { text: 'Olá!' });
  assert.deepEqual(draft(' \n\t '), { error: 'empty' });
  assert.deepEqual(draft('x'.repeat(MAX_CHAT_CHARS)), { text: 'x'.repeat(MAX_CHAT_CHARS) });
  assert.deepEqual(draft(` ${'x'.repeat(MAX_CHAT_CHARS)} `), { text: 'x'.repeat(MAX_CHAT_CHARS) });
  assert.deepEqual(draft('x'.repeat(MAX_CHAT_CHARS + 1)), { error: 'too-long' });
});

test('the chat message built for the server carries the text and nothing else', () => {
  assert.deepEqual(chat('Olá'), { v: 1, type: 'chat', text: 'Olá' });
});

test('a relayed chat line is a message the client accepts, and one without text is refused', () => {
  const line = { v: 1, type: 'chat', from: 'p-1', text: 'hi', at: '2026-11-23T22:30:00+00:00', side_room: null };
  assert.equal(parse(JSON.stringify(line)).text, 'hi');
  assert.throws(() => parse(JSON.stringify({ ...line, text: 7 })), /chat message needs text/);
});

test('lines are kept in the order they arrive, with the name shown and where they were written', () => {
  const transcript = new Transcript();
  transcript.add(relayed('p-1', 'first'), { name: 'Ana', seen: true, mine: false });
  transcript.add(relayed('p-2', 'second', '2026-11-23T22:31:00+00:00', 'side-1'), { name: 'Rui', seen: true, mine: false });
  assert.deepEqual(transcript.lines, [
    { from: 'p-1', name: 'Ana', text: 'first', at: '2026-11-23T22:30:00+00:00', side_room: null },
    { from: 'p-2', name: 'Rui', text: 'second', at: '2026-11-23T22:31:00+00:00', side_room: 'side-1' },
  ]);
});

test('only lines of others that arrive while the chat is out of view count as unread', () => {
  const transcript = new Transcript();
  transcript.add(relayed('me', 'mine'), { name: 'Me', seen: false, mine: true });
  transcript.add(relayed('p-1', 'seen'), { name: 'Ana', seen: true, mine: false });
  assert.equal(transcript.unread, 0);
  transcript.add(relayed('p-1', 'one'), { name: 'Ana', seen: false, mine: false });
  transcript.add(relayed('p-1', 'two'), { name: 'Ana', seen: false, mine: false });
  assert.equal(transcript.unread, 2);
  transcript.markRead();
  assert.equal(transcript.unread, 0);
});

test('saving sends every line, copied, in batches the server takes', () => {
  const transcript = new Transcript();
  for (let index = 0; index < MAX_SAVED_LINES + 3; index += 1) {
    transcript.add(relayed('p-1', `line ${index}`), { name: 'Ana', seen: true, mine: false });
  }
  const batches = transcript.forRecord();
  assert.deepEqual(batches.map((batch) => batch.lines.length), [MAX_SAVED_LINES, 3]);
  assert.equal(batches[1].lines[2].text, `line ${MAX_SAVED_LINES + 2}`);
  batches[0].lines[0].text = 'changed';
  assert.equal(transcript.lines[0].text, 'line 0', 'the transcript is not changed by what was sent');
  assert.deepEqual(new Transcript().forRecord(), []);
});

test('a long chat is split so that no save is larger than the body limit', () => {
  const transcript = new Transcript();
  for (let index = 0; index < 200; index += 1) {
    transcript.add(relayed('p-1', 'é'.repeat(MAX_CHAT_CHARS)), { name: 'Ana', seen: true, mine: false });
  }
  const batches = transcript.forRecord();
  assert.ok(batches.length > 1);
  for (const batch of batches) {
    assert.ok(new TextEncoder().encode(JSON.stringify(batch)).length <= SAVE_BODY_BYTES);
  }
  assert.equal(batches.reduce((sum, batch) => sum + batch.lines.length, 0), 200);
});

test('clearing forgets every line and the unread count', () => {
  const transcript = new Transcript();
  transcript.add(relayed('p-1', 'secret'), { name: 'Ana', seen: false, mine: false });
  transcript.clear();
  assert.deepEqual([transcript.lines, transcript.unread], [[], 0]);
});

test('a line shows its time as hours and minutes, and nothing for a time it cannot read', () => {
  assert.match(clockTime('2026-11-23T22:30:00+00:00', 'pt'), /^\d{2}:\d{2}$/);
  assert.equal(clockTime('not a time', 'en'), '');
});
