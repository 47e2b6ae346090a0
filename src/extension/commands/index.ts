// Every command of the extension, in one table (rust-analyzer style), and the one place that registers
// them. Handlers are grouped by area in this folder; each gets the context object (context.ts) and the
// arguments VS Code passes (a tree item, an explorer Uri, a multi-selection, ...). Titles, icons and
// menus are in package.json.

import * as vscode from 'vscode';
import type { Ctx } from '../context';
import type { EditorFeatures } from '../editorFeatures';
import * as datasets from './datasets';
import * as editor from './editor';
import { exportCheckpoint } from './export';
import { checkGpu } from './gpu';
import { setHubToken } from './hub';
import * as panels from './panels';
import * as runs from './runs';
import { fineTune } from './train';

type Handler = (...args: unknown[]) => unknown;

/** command id (without the `finetuneStudio.` prefix) → handler. */
export function commandTable(ctx: Ctx, features: EditorFeatures): Record<string, Handler> {
  const on = (handler: (ctx: Ctx, ...args: unknown[]) => unknown): Handler => (...args) => handler(ctx, ...args);
  return {
    // training and runs
    fineTune: on(fineTune),
    stopRun: on(runs.stopRun),
    resumeRun: on(runs.resumeRun),
    deleteRun: on(runs.deleteRun),
    revealRunFolder: on(runs.revealRunFolder),
    showRunLog: on(runs.showRunLog),
    copyCheckpointPath: on(runs.copyCheckpointPath),
    refresh: on(runs.refresh),
    showOutput: () => ctx.output.show(true),
    // panels
    openLossCurves: on(panels.openLossCurves),
    compareRuns: on(panels.compareRuns),
    openPlayground: on(panels.openPlayground),
    // export
    exportCheckpoint: on(exportCheckpoint),
    // datasets and the Hub
    previewTrainingExamples: on(datasets.previewTrainingExamples),
    getHubDataset: on(datasets.getHubDataset),
    createPretrainingDataset: on(datasets.createPretrainingDataset),
    splitDataset: on(datasets.splitDataset),
    setHuggingFaceToken: on(setHubToken),
    // the machine
    checkGpu: on(checkGpu),
    // editor features (chat, selection)
    runSelectionOnModels: () => editor.runSelectionOnModels(ctx, features),
    useInChat: (arg) => editor.useInChat(features, arg),
  };
}

/** Registers the table; a failing handler shows its message with "Show log" (the stack goes to the log). */
export function registerCommands(ctx: Ctx, table: Record<string, Handler>): vscode.Disposable[] {
  return Object.entries(table).map(([name, handler]) =>
    vscode.commands.registerCommand(`finetuneStudio.${name}`, async (...args: unknown[]) => {
      try {
        return await handler(...args);
      } catch (error) {
        ctx.output.appendLine(`${name}: ${(error as Error).stack ?? String(error)}`);
        void vscode.window.showErrorMessage(`Finetune Studio: ${(error as Error).message}`, 'Show log').then((c) => c && ctx.output.show(true));
        return undefined;
      }
    }),
  );
}
