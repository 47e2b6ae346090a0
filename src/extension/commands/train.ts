// "Fine-tune…": pick the dataset, scan it, run the wizard (wizard.ts, VS Code-free) over the VS Code
// quick picks, and queue the run it returns.

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import { METHODS, type Method } from '../../core/methods';
import { checkModelFolder, type Ctx } from '../context';
import { vscodeWizardUI } from '../vscodeWizardUI';
import { runFineTuneWizard, type WizardServices } from '../wizard';
import { goldenCandidates } from '../wizardEval';
import { requireManager, requireTrust } from './common';
import { downloadFromHub } from './hub';

export async function fineTune(ctx: Ctx, arg?: unknown, options?: unknown): Promise<void> {
  if (!(await requireTrust())) return;
  const manager = requireManager(ctx);
  if (!manager) return;
  const uri = arg instanceof vscode.Uri ? arg : await pickDataset(ctx);
  if (!uri) return;
  const scan = await ctx.datasets.scanOf(uri);
  // `{ method: 'dpo' }` from the arena's "Train DPO on these votes"
  const method = (options as { method?: unknown } | undefined)?.method;
  const initialMethod = typeof method === 'string' && METHODS.some((m) => m.id === method) ? (method as Method) : undefined;
  const result = await runFineTuneWizard(vscodeWizardUI, wizardServices(ctx), uri.fsPath, scan, new Date(), initialMethod);
  if (!result) return;
  await ctx.rememberModel(result.config.model);
  const runId = manager.start(result.name, result.config);
  ctx.output.appendLine(`[${runId}] queued: ${result.config.model} on ${vscode.workspace.asRelativePath(uri)}`);
  const choice = await vscode.window.showInformationMessage(`Finetune Studio: run ${result.name} started.`, 'Show run');
  if (choice === 'Show run') await showRun(ctx, runId);
}

/** A .jsonl of the workspace, else one from an open dialog when the workspace has none. */
async function pickDataset(ctx: Ctx): Promise<vscode.Uri | undefined> {
  const files = await ctx.datasets.list();
  if (files.length === 0) {
    return (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'JSON Lines': ['jsonl'] }, title: 'Dataset to fine-tune on' }))?.[0];
  }
  const picked = await vscode.window.showQuickPick(
    files.map((f) => ({ label: path.basename(f.fsPath), description: vscode.workspace.asRelativePath(f), uri: f })),
    { placeHolder: 'Dataset to fine-tune on' },
  );
  return picked?.uri;
}

/** What the wizard needs from the machine and the editor. */
function wizardServices(ctx: Ctx): WizardServices {
  return {
    knownModels: () => ctx.knownModels(),
    pickModelFolder: async () => (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title: 'Hugging Face model folder (config.json, tokenizer.json, *.safetensors)', openLabel: 'Use this model' }))?.[0]?.fsPath,
    downloadHubModel: (repo) => downloadFromHub(ctx, repo),
    checkModelFolder,
    readModelConfig: (dir) => JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, unknown>,
    measuredThroughput: (model, backend) => ctx.listRuns().find((r) => r.model === model && r.status === 'completed' && (backend === 'auto' || r.backend === backend) && r.tokens_per_second)?.tokens_per_second,
    inform: (message) => void vscode.window.showWarningMessage(message),
    backend: ctx.backend(),
    systemMemoryBytes: os.totalmem(),
    goldenSetBeside: (dataFile) => {
      const file = goldenCandidates(dataFile).find((f) => fs.existsSync(f));
      return file ? { file, rows: fs.readFileSync(file, 'utf8').split('\n').filter((l) => l.trim()).length } : undefined;
    },
  };
}

async function showRun(ctx: Ctx, runId: string): Promise<void> {
  await vscode.commands.executeCommand('finetuneStudio.runs.focus');
  // reveal needs the object the tree holds; a progress refresh can replace it in between: retry
  for (let attempt = 0; attempt < 3; attempt++) {
    const run = await ctx.runs.shown(runId);
    if (!run) return;
    try {
      await ctx.runsTree.reveal(run, { select: true, focus: true });
      return;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }
}
