// What the panels need from the rest of the extension. src/extension/panelHost.ts (owned by the
// extension-host side) defines the real PanelHost; it must stay assignable to this shape.

import type { ChildProcessWithoutNullStreams } from 'child_process';
import type * as vscode from 'vscode';
import type { TrainerEvent } from '../../core/protocol';
import type { RunSummary } from '../../core/runStore';

export interface PanelHostContract {
  readonly extensionUri: vscode.Uri;
  /** every run the extension knows about (run store). */
  listRuns(): RunSummary[];
  /** live TrainerEvents of the run in `runDir` (events from now on; history is read from metrics.jsonl). */
  subscribe(runDir: string, listener: (event: TrainerEvent) => void): vscode.Disposable;
  /** spawns the ftune CLI with these arguments (e.g. ['serve', '--model', DIR]). */
  spawnCli(args: string[]): ChildProcessWithoutNullStreams;
  readonly output: vscode.OutputChannel;
}
