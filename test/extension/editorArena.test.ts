// The arena's preference writing (src/extension/arena/preferences.ts): TRL conversational preference rows
// that our own loader reads as DPO data, the sidecar log of every vote, and the per-pair tally.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { preferenceRow, readVotes, recordVote, sidecarPath, tallyVotes, type ArenaRound } from '../../src/extension/arena/preferences';
import { readRecords } from '../../src/core/formats';
import { isArenaToHost } from '../../src/core/arenaProtocol';

const round = (a: string, b: string, swap = false): ArenaRound => {
  const base = { ref: { model: '/m/Qwen' }, label: 'Qwen' };
  const tuned = { ref: { model: '/m/Qwen', adapter: '/r/run/adapter' }, label: 'Qwen + run (final)' };
  return {
    prompt: [{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'What is 2 + 2?' }],
    answers: { A: a, B: b },
    models: swap ? { A: tuned, B: base } : { A: base, B: tuned },
    options: { max_new_tokens: 64, greedy: false, temperature: 0.7, top_p: 0.9, top_k: 0, seed: 1, stop: true },
  };
};

test('a decisive vote is one TRL preference row; ties, both bad and identical answers write none (with the reason)', () => {
  assert.deepEqual(preferenceRow(round('4', 'five'), 'B'), {
    row: { prompt: round('', '').prompt, chosen: [{ role: 'assistant', content: 'five' }], rejected: [{ role: 'assistant', content: '4' }] },
  });
  assert.match((preferenceRow(round('4', 'five'), 'tie') as { skipped: string }).skipped, /tie/);
  assert.match((preferenceRow(round('4', 'five'), 'bad') as { skipped: string }).skipped, /both answers were bad/);
  assert.match((preferenceRow(round('4', ' 4 '), 'A') as { skipped: string }).skipped, /identical/);
  assert.match((preferenceRow(round('', '4'), 'B') as { skipped: string }).skipped, /empty/);
});

test('votes append rows the DPO loader reads, keep earlier rows, and log models + sampling settings in the sidecar', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'arena-'));
  const file = path.join(dir, 'arena-preferences.jsonl');
  // an existing file without a trailing newline is continued, not rewritten
  fs.writeFileSync(file, JSON.stringify({ prompt: [{ role: 'user', content: 'Hi' }], chosen: [{ role: 'assistant', content: 'Hello!' }], rejected: [{ role: 'assistant', content: 'k' }] }));
  const first = fs.readFileSync(file, 'utf8');
  const now = new Date('2026-12-07T18:00:00Z');
  assert.deepEqual(recordVote(file, round('4', 'five'), 'A', now), { line: 2 });
  assert.deepEqual(recordVote(file, round('4', 'five'), 'tie', now), { skipped: 'a tie prefers neither answer' });
  assert.deepEqual(recordVote(file, round('four', '4', true), 'B', now), { line: 3 });
  const text = fs.readFileSync(file, 'utf8');
  assert.ok(text.startsWith(`${first}\n`), 'the earlier row is untouched');
  const { format, records } = await readRecords(file, { format: 'auto' });
  assert.equal(format, 'preference');
  assert.equal(records.length, 3);
  const second = records[1].record;
  assert.ok(second.kind === 'preference');
  const votes = readVotes(file);
  assert.equal(votes.length, 3);
  assert.deepEqual(votes.map((v) => [v.vote, v.line]), [['A', 2], ['tie', undefined], ['B', 3]]);
  assert.deepEqual(votes[2].B, { ref: { model: '/m/Qwen' }, label: 'Qwen' });
  assert.equal(votes[0].options.temperature, 0.7);
  assert.equal(votes[0].time, '2026-12-07T18:00:00.000Z');
  assert.ok(fs.existsSync(sidecarPath(file)));
  // both decisive votes went to the base ("Qwen"), whichever side it was on
  assert.deepEqual(tallyVotes(votes), [{ models: ['Qwen', 'Qwen + run (final)'], wins: [2, 0], ties: 1, both_bad: 0 }]);
});

test('arena messages from the webview are checked before the host acts', () => {
  const ref = { model: '/m/Qwen' };
  const options = { max_new_tokens: 8, greedy: true, stop: true };
  assert.equal(isArenaToHost({ type: 'arenaAsk', request_id: 'r', prompt: 'p', system: '', refs: [ref, ref], labels: ['a', 'b'], options }), true);
  assert.equal(isArenaToHost({ type: 'arenaAsk', request_id: 'r', prompt: 'p', system: '', refs: [ref], labels: ['a'], options }), false);
  assert.equal(isArenaToHost({ type: 'arenaVote', request_id: 'r', vote: 'C' }), false);
  assert.equal(isArenaToHost({ type: 'arenaVote', request_id: 'r', vote: 'tie' }), true);
  assert.equal(isArenaToHost({ type: 'generate' }), false);
});
