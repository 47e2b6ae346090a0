// Messages of the playground's Arena (blind A/B votes that become DPO data) between the webview and
// the extension host. The host alone knows which model is A and which is B until the vote.

import type { DecodingOptions, ModelRef } from './protocol';

export type ArenaSide = 'A' | 'B';
export type ArenaVoteKind = 'A' | 'B' | 'tie' | 'bad';

export interface ArenaPairTally {
  models: [string, string];
  wins: [number, number];
  ties: number;
  both_bad: number;
}

export type ArenaToHost =
  | { type: 'arenaAsk'; request_id: string; prompt: string; system: string; refs: [ModelRef, ModelRef]; labels: [string, string]; options: DecodingOptions }
  | { type: 'arenaVote'; request_id: string; vote: ArenaVoteKind }
  | { type: 'arenaStop' }
  | { type: 'arenaTrainDpo' }
  | { type: 'arenaInit' };

export type HostToArena =
  | { type: 'arenaToken'; request_id: string; side: ArenaSide; text: string }
  | { type: 'arenaDone'; request_id: string; side: ArenaSide; text: string; tokens_per_second: number; cancelled: boolean }
  | { type: 'arenaError'; request_id?: string; message: string }
  | { type: 'arenaRevealed'; request_id: string; vote: ArenaVoteKind; names: { A: string; B: string }; line?: number; skipped?: string }
  | { type: 'arenaTally'; tallies: ArenaPairTally[]; file: string; rows: number };

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isRef = (v: unknown): v is ModelRef => isRecord(v) && typeof v.model === 'string' && v.model !== '' && (v.adapter === undefined || typeof v.adapter === 'string');

/** Checks a webview message before the host acts on it (a webview is untrusted input). */
export function isArenaToHost(value: unknown): value is ArenaToHost {
  if (!isRecord(value) || typeof value.type !== 'string') return false;
  switch (value.type) {
    case 'arenaAsk':
      return typeof value.request_id === 'string' && typeof value.prompt === 'string' && typeof value.system === 'string' &&
        Array.isArray(value.refs) && value.refs.length === 2 && value.refs.every(isRef) &&
        Array.isArray(value.labels) && value.labels.length === 2 && value.labels.every((l) => typeof l === 'string') && isRecord(value.options);
    case 'arenaVote':
      return typeof value.request_id === 'string' && ['A', 'B', 'tie', 'bad'].includes(value.vote as string);
    case 'arenaStop':
    case 'arenaTrainDpo':
    case 'arenaInit':
      return true;
    default:
      return false;
  }
}

const ARENA_HOST_TYPES = new Set(['arenaToken', 'arenaDone', 'arenaError', 'arenaRevealed', 'arenaTally']);

export function isHostToArena(value: unknown): value is HostToArena {
  return isRecord(value) && typeof value.type === 'string' && ARENA_HOST_TYPES.has(value.type);
}
