// The Arena's host side: asks two models the same prompt in a random order (the webview only sees "A"
// and "B"), and on the vote reveals them, appends the preference row and tallies per model pair.

import * as path from 'path';
import * as vscode from 'vscode';
import { isDecodingOptions, type ChatMessage } from '../../core/protocol';
import type { ArenaToHost, HostToArena } from '../../core/arenaProtocol';
import type { ServePool } from '../panels/serveClient';
import { readVotes, recordVote, tallyVotes, type ArenaRound } from './preferences';

export const ARENA_FILE = 'arena-preferences.jsonl';

export function arenaFile(): string | undefined {
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, ARENA_FILE) : undefined;
}

export class ArenaHost {
  private readonly rounds = new Map<string, ArenaRound>();
  private readonly running = new Set<string>();

  constructor(
    private readonly pool: ServePool,
    private readonly post: (message: HostToArena) => void,
  ) {}

  async handle(message: ArenaToHost): Promise<void> {
    switch (message.type) {
      case 'arenaInit':
        this.postTally();
        return;
      case 'arenaAsk':
        await this.ask(message);
        return;
      case 'arenaVote':
        this.vote(message.request_id, message.vote);
        return;
      case 'arenaStop':
        for (const id of this.running) this.pool.get(id.split('\n')[0]).cancel(id);
        return;
      case 'arenaTrainDpo': {
        const file = arenaFile();
        if (!file) throw new Error('open a folder first: the arena writes its votes into the workspace');
        await vscode.commands.executeCommand('finetuneStudio.fineTune', vscode.Uri.file(file), { method: 'dpo' });
        return;
      }
    }
  }

  private postTally(): void {
    const file = arenaFile();
    if (!file) return;
    const votes = readVotes(file);
    this.post({ type: 'arenaTally', tallies: tallyVotes(votes), file, rows: votes.filter((v) => v.line !== undefined).length });
  }

  private async ask(message: Extract<ArenaToHost, { type: 'arenaAsk' }>): Promise<void> {
    if (!isDecodingOptions(message.options)) {
      this.post({ type: 'arenaError', request_id: message.request_id, message: 'invalid decoding options' });
      return;
    }
    // the webview's first pick is A or B by a coin toss: it cannot know which model answers where
    const swap = Math.random() < 0.5;
    const order = swap ? [1, 0] : [0, 1];
    const prompt: ChatMessage[] = [...(message.system.trim() !== '' ? [{ role: 'system', content: message.system }] : []), { role: 'user', content: message.prompt }];
    const round: ArenaRound = {
      prompt,
      answers: { A: '', B: '' },
      models: { A: { ref: message.refs[order[0]], label: message.labels[order[0]] }, B: { ref: message.refs[order[1]], label: message.labels[order[1]] } },
      options: message.options,
    };
    this.rounds.set(message.request_id, round);
    await Promise.all((['A', 'B'] as const).map(async (side) => {
      const { ref } = round.models[side];
      // the id starts with the base model: Stop finds the server to cancel on
      const id = `${ref.model}\n${message.request_id}/${side}`;
      this.running.add(id);
      try {
        const done = await this.pool.get(ref.model).generate(
          { id, ref, messages: prompt, options: message.options },
          { onToken: (text) => this.post({ type: 'arenaToken', request_id: message.request_id, side, text }) },
        );
        round.answers[side] = done.text;
        this.post({ type: 'arenaDone', request_id: message.request_id, side, text: done.text, tokens_per_second: done.tokens_per_second, cancelled: done.cancelled });
      } catch (error) {
        this.post({ type: 'arenaError', request_id: message.request_id, message: `${side}: ${(error as Error).message}` });
      } finally {
        this.running.delete(id);
      }
    }));
  }

  private vote(requestId: string, vote: 'A' | 'B' | 'tie' | 'bad'): void {
    const round = this.rounds.get(requestId);
    const file = arenaFile();
    if (!round || !file) {
      this.post({ type: 'arenaError', request_id: requestId, message: file ? 'this round is no longer known (the panel was reloaded): ask again' : 'open a folder first: the arena writes its votes into the workspace' });
      return;
    }
    this.rounds.delete(requestId); // one vote per round
    const written = recordVote(file, round, vote);
    this.post({ type: 'arenaRevealed', request_id: requestId, vote, names: { A: round.models.A.label, B: round.models.B.label }, ...written });
    this.postTally();
  }
}
