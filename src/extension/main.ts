// Extension entry point. Every command is registered from the one table in commands/index.ts; each
// handler gets the context object (context.ts), which owns settings, views, processes and the output
// channel. Every panel registers its serializer here.

import * as vscode from 'vscode';
import { commandTable, registerCommands } from './commands';
import { Ctx } from './context';
import { registerEditorFeatures } from './editorFeatures';
import { registerLossPanelSerializer } from './panels/lossPanel';
import { registerMaskPreviewSerializer } from './panels/maskPreviewPanel';
import { registerPlaygroundSerializer } from './panels/playgroundPanel';
import { queuedRunsQuestion } from './runQueue';

let ctx: Ctx | undefined;

export function activate(context: vscode.ExtensionContext): void {
  ctx = new Ctx(context);
  const owner = ctx;
  const features = registerEditorFeatures(owner, context);
  context.subscriptions.push(...registerCommands(owner, commandTable(owner, features)));
  // every panel restores itself after a window reload
  context.subscriptions.push(
    registerLossPanelSerializer(owner),
    registerPlaygroundSerializer(owner),
    registerMaskPreviewSerializer(owner, { scan: (file) => owner.datasets.scanOf(vscode.Uri.file(file)) }),
  );
  // Runs that say queued but that this window did not queue (an earlier session, another window, a
  // cloned repository) are offered, never started silently — also once a workspace becomes trusted.
  if (vscode.workspace.isTrusted) void offerQueuedRuns(owner);
  else context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => void offerQueuedRuns(owner)));
}

async function offerQueuedRuns(owner: Ctx): Promise<void> {
  const manager = owner.manager;
  const queued = manager?.queuedElsewhere() ?? [];
  if (!manager || queued.length === 0) return;
  const choice = await vscode.window.showInformationMessage(queuedRunsQuestion(queued.map((r) => r.name)), 'Resume', 'Show Runs');
  if (choice === 'Resume') manager.enqueueQueued(queued.map((r) => r.id));
  if (choice === 'Show Runs') void vscode.commands.executeCommand('finetuneStudio.runs.focus');
}

/** Stops this window's trainers; each saves a checkpoint, so the runs show as stopped and resumable. */
export async function deactivate(): Promise<void> {
  await ctx?.dispose();
  ctx = undefined;
}
