// The contract between the extension host and the webview panels (src/extension/panels/*): what a
// panel may use — runs, their TrainerEvents, the CLI, the output channel — without knowing how the
// host keeps them. The host's context object implements it (context.ts).
//
//   panels/lossPanel.ts        export function openLossPanel(host: PanelHost, runDirs: string[]): void
//   panels/playgroundPanel.ts  export function openPlayground(host: PanelHost, preselect?: { model: string; adapter?: string }): void

import type { ChildProcessWithoutNullStreams } from 'child_process';
import type * as vscode from 'vscode';
import type { TrainerEvent } from '../core/protocol';
import type { BackendName } from '../core/runConfig';
import type { RunSummary } from '../core/runStore';

export interface PanelHost {
  /** the extension's root (for webview resources: media/build/*.js, media/*.css). */
  readonly extensionUri: vscode.Uri;
  /** for keeping panel state across reloads (serializers, last selections). */
  readonly extensionContext: vscode.ExtensionContext;
  /** the "Finetune Studio" output channel (trainer logs go here too). */
  readonly output: vscode.OutputChannel;

  /** every run of the workspace's runs directory, newest first (status, progress, checkpoints, adapter, config). */
  listRuns(): RunSummary[];
  /** fires whenever any run is created, progresses, changes status or is deleted. */
  readonly onDidChangeRuns: vscode.Event<void>;
  /** the events the trainer has written so far for `runDir` (its metrics.jsonl). */
  readRunEvents(runDir: string): TrainerEvent[];
  /**
   * Live events of `runDir` from now on (stdout of a trainer this window runs, or new lines of
   * metrics.jsonl for a run trained elsewhere). Read the history first, then subscribe.
   */
  onRunEvent(runDir: string, listener: (event: TrainerEvent) => void): vscode.Disposable;

  /** base model folders the user has used or that sit in the workspace (for the playground's model picker). */
  knownModels(): Promise<{ dir: string; label: string }[]>;
  /** remembers a model folder as recently used. */
  rememberModel(dir: string): Promise<void>;

  /** absolute path of the ftune CLI (dist/ftune.js when packaged, bin/ftune.js in a checkout). */
  readonly cliPath: string;
  /** the backend setting (finetuneStudio.backend), to pass as --backend. */
  backend(): BackendName;
  /**
   * Spawns `ftune <args>` with the same Node the trainer uses (Electron as Node, or the configured
   * node path). The caller owns the process (e.g. `ftune serve` for the playground) and must kill it
   * when its panel closes. Throws RestrictedModeError (trust.ts) in an untrusted workspace.
   */
  spawnCli(args: readonly string[], options?: { cwd?: string; env?: Record<string, string>; restrictedModeSafe?: boolean }): ChildProcessWithoutNullStreams;
}
