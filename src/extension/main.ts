// Extension entry point. Every command is registered from the single table below; each handler gets
// the context object (context.ts), which owns settings, views, processes and the output channel.

import * as vscode from 'vscode';
import { checkGpu } from './checkGpu';
import * as commands from './commands';
import { Ctx } from './context';
import * as datasetCommands from './datasetCommands';
import { exportCheckpoint } from './exportCommand';
import { registerMaskPreviewSerializer } from './panels/maskPreviewPanel';
import { registerPanelSerializers } from './panelLoader';
import { queuedRunsQuestion } from './runQueue';
import { registerEditorFeatures } from './editorFeatures';

type Handler = (ctx: Ctx, ...args: unknown[]) => unknown;

/** command id (without the `finetuneStudio.` prefix) → handler. Titles, icons and menus are in package.json. */
const COMMANDS: Record<string, Handler> = {
  fineTune: commands.fineTune,
  stopRun: commands.stopRun,
  resumeRun: commands.resumeRun,
  deleteRun: commands.deleteRun,
  revealRunFolder: commands.revealRunFolder,
  showRunLog: commands.showRunLog,
  openLossCurves: commands.openLossCurves,
  compareRuns: (ctx, arg, selected) => commands.compareRuns(ctx, arg, selected as unknown[] | undefined),
  openPlayground: commands.openPlayground,
  copyCheckpointPath: commands.copyCheckpointPath,
  exportCheckpoint,
  setHuggingFaceToken: commands.setHubToken,
  previewTrainingExamples: datasetCommands.previewTrainingExamples,
  getHubDataset: datasetCommands.getHubDataset,
  createPretrainingDataset: datasetCommands.createPretrainingDataset,
  splitDataset: datasetCommands.splitDataset,
  checkGpu,
  refresh: commands.refresh,
  showOutput: (ctx) => ctx.output.show(true),
};

let ctx: Ctx | undefined;

export function activate(context: vscode.ExtensionContext): void {
  ctx = new Ctx(context);
  const owner = ctx;
  for (const [name, handler] of Object.entries(COMMANDS)) {
    context.subscriptions.push(
      vscode.commands.registerCommand(`finetuneStudio.${name}`, async (...args: unknown[]) => {
        try {
          return await handler(owner, ...args);
        } catch (error) {
          owner.output.appendLine(`${name}: ${(error as Error).stack ?? String(error)}`);
          void vscode.window.showErrorMessage(`Finetune Studio: ${(error as Error).message}`, 'Show log').then((c) => c && owner.output.show(true));
          return undefined;
        }
      }),
    );
  }
  context.subscriptions.push(...registerPanelSerializers(owner));
  context.subscriptions.push(registerMaskPreviewSerializer(owner, { scan: (file) => owner.datasets.scanOf(vscode.Uri.file(file)) }));
  registerEditorFeatures(owner, context);
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
