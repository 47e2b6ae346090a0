// Arena votes → DPO data. A decisive vote (A or B better) appends one row in TRL's conversational
// preference format, {"prompt": [messages], "chosen": [assistant], "rejected": [assistant]}, to a JSONL
// file; every vote (ties and "both bad" included) is logged with the models and decoding settings in a
// sidecar `<file>.arena.json`, so the data's origin is known. No vscode import: unit tested.

import * as fs from 'fs';
import type { ChatMessage, DecodingOptions, ModelRef } from '../../core/protocol';

export type ArenaVote = 'A' | 'B' | 'tie' | 'bad';

export interface ArenaRound {
  /** the conversation both models answered. */
  prompt: ChatMessage[];
  answers: { A: string; B: string };
  models: { A: { ref: ModelRef; label: string }; B: { ref: ModelRef; label: string } };
  options: DecodingOptions;
}

export interface PreferenceRow {
  prompt: ChatMessage[];
  chosen: ChatMessage[];
  rejected: ChatMessage[];
}

/** The row a vote adds, or why none is written (a tie, both bad, or two identical answers: nothing to prefer). */
export function preferenceRow(round: ArenaRound, vote: ArenaVote): { row: PreferenceRow } | { skipped: string } {
  if (vote === 'tie') return { skipped: 'a tie prefers neither answer' };
  if (vote === 'bad') return { skipped: 'both answers were bad: neither can be chosen' };
  const chosen = vote === 'A' ? round.answers.A : round.answers.B;
  const rejected = vote === 'A' ? round.answers.B : round.answers.A;
  if (chosen.trim() === rejected.trim()) return { skipped: 'the two answers are identical (nothing to prefer)' };
  if (chosen.trim() === '' || rejected.trim() === '') return { skipped: 'an empty answer cannot be trained on' };
  return { row: { prompt: round.prompt, chosen: [{ role: 'assistant', content: chosen }], rejected: [{ role: 'assistant', content: rejected }] } };
}

export interface VoteLogEntry {
  time: string;
  vote: ArenaVote;
  /** 1-based line of the row written for this vote, when one was. */
  line?: number;
  A: { label: string; ref: ModelRef };
  B: { label: string; ref: ModelRef };
  options: DecodingOptions;
}

export interface ArenaSidecar {
  source: 'arena';
  format: 'trl-preference (conversational)';
  votes: VoteLogEntry[];
}

export const sidecarPath = (file: string): string => `${file}.arena.json`;

function countLines(file: string): number {
  if (!fs.existsSync(file)) return 0;
  return fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '').length;
}

function readSidecar(file: string): ArenaSidecar {
  try {
    const value = JSON.parse(fs.readFileSync(sidecarPath(file), 'utf8')) as ArenaSidecar;
    if (value?.source === 'arena' && Array.isArray(value.votes)) return value;
  } catch {
    // none yet
  }
  return { source: 'arena', format: 'trl-preference (conversational)', votes: [] };
}

/**
 * Records a vote: appends the preference row (decisive votes) and the vote to the sidecar. Appending
 * never rewrites earlier rows; a file that does not end with a newline gets one first.
 */
export function recordVote(file: string, round: ArenaRound, vote: ArenaVote, now = new Date()): { line?: number; skipped?: string } {
  const result = preferenceRow(round, vote);
  let line: number | undefined;
  if ('row' in result) {
    const existing = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
    const separator = existing !== '' && !existing.endsWith('\n') ? '\n' : '';
    fs.appendFileSync(file, `${separator}${JSON.stringify(result.row)}\n`);
    line = countLines(file);
  }
  const sidecar = readSidecar(file);
  sidecar.votes.push({ time: now.toISOString(), vote, line, A: round.models.A, B: round.models.B, options: round.options });
  const tmp = `${sidecarPath(file)}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(sidecar, null, 2) + '\n');
  fs.renameSync(tmp, sidecarPath(file));
  return 'row' in result ? { line } : { skipped: result.skipped };
}

/** Wins / ties / both-bad per model pair, from the sidecar's votes (labels sorted, so A/B order does not matter). */
export interface PairTally {
  models: [string, string];
  wins: [number, number];
  ties: number;
  both_bad: number;
}

export function tallyVotes(votes: readonly VoteLogEntry[]): PairTally[] {
  const pairs = new Map<string, PairTally>();
  for (const v of votes) {
    const models = [v.A.label, v.B.label].sort() as [string, string];
    const key = JSON.stringify(models);
    const tally = pairs.get(key) ?? { models, wins: [0, 0], ties: 0, both_bad: 0 };
    if (v.vote === 'tie') tally.ties += 1;
    else if (v.vote === 'bad') tally.both_bad += 1;
    else tally.wins[models.indexOf(v.vote === 'A' ? v.A.label : v.B.label)] += 1;
    pairs.set(key, tally);
  }
  return [...pairs.values()];
}

export function readVotes(file: string): VoteLogEntry[] {
  return readSidecar(file).votes;
}
