// Which checkpoints the user put in the chat model picker ("Use in Chat" on a checkpoint), kept in the
// workspace state so the picker is not flooded with every checkpoint of every run.

import * as vscode from 'vscode';

const KEY = 'finetuneStudio.chatCheckpoints';

export class ChatOptIns implements vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<void>();
  readonly onDidChange = this.changed.event;

  constructor(private readonly state: vscode.Memento) {}

  paths(): ReadonlySet<string> {
    return new Set(this.state.get<string[]>(KEY, []));
  }

  /** Adds the checkpoint, or removes it when it is in already; returns true when it is in now. */
  async toggle(checkpointPath: string): Promise<boolean> {
    const paths = this.paths();
    const nowIn = !paths.has(checkpointPath);
    const next = nowIn ? [...paths, checkpointPath] : [...paths].filter((p) => p !== checkpointPath);
    await this.state.update(KEY, next);
    this.changed.fire();
    return nowIn;
  }

  dispose(): void {
    this.changed.dispose();
  }
}
