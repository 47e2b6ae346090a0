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
  // runs left queued by a previous window start now (one at a time, as always)
  if (vscode.workspace.isTrusted) owner.manager?.restoreQueued();
  else context.subscriptions.push(vscode.workspace.onDidGrantWorkspaceTrust(() => owner.manager?.restoreQueued()));
}

/** Stops this window's trainers; each saves a checkpoint, so the runs show as stopped and resumable. */
export async function deactivate(): Promise<void> {
  await ctx?.dispose();
  ctx = undefined;
}
