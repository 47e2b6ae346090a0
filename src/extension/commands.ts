// Every command of the extension. main.ts registers them from one table; each gets the context
// object and the arguments VS Code passes (a tree item, an explorer Uri, ...).

import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { RunSummary } from '../core/runStore';
import { checkModelFolder, type Ctx } from './context';
import { downloadModel } from '../core/hub/models';
import { HubError } from '../core/hub/errors';
import { loadLossPanel, loadPlayground } from './panelLoader';
import type { CheckpointEntry } from './views/checkpointsView';
import { runFineTuneWizard, type WizardServices } from './wizard';
import { goldenCandidates } from './wizardEval';
import { vscodeWizardUI } from './vscodeWizardUI';
import { METHODS } from '../core/methods';
import type { Method } from '../core/protocol';

export const HF_TOKEN_SECRET = 'finetuneStudio.huggingFaceToken';

const RESTRICTED_MODE_MESSAGE =
  'Finetune Studio: training is disabled in Restricted Mode. A run executes the ftune trainer on files of this workspace (data, model folders, settings), so the workspace must be trusted first.';

/** Training runs workspace content through a child process: only in trusted workspaces. */
async function requireTrust(): Promise<boolean> {
  if (vscode.workspace.isTrusted) return true;
  const choice = await vscode.window.showWarningMessage(RESTRICTED_MODE_MESSAGE, 'Manage Workspace Trust');
  if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
  return false;
}

function requireManager(ctx: Ctx) {
  const manager = ctx.manager;
  if (!manager) void vscode.window.showWarningMessage('Finetune Studio: open a folder first — runs are stored in the workspace (setting finetuneStudio.runsDirectory).');
  return manager;
}

/** Tree items and command arguments come in several shapes; this finds the run they mean. */
function runFrom(ctx: Ctx, arg: unknown): RunSummary | undefined {
  const value = arg as Partial<RunSummary & CheckpointEntry> | undefined;
  const id = value && 'kind' in value && value.kind ? (value as CheckpointEntry).run.id : value?.id;
  if (typeof id === 'string') return ctx.manager?.get(id);
  const selected = ctx.runsTree.selection[0];
  return selected ? ctx.manager?.get(selected.id) : undefined;
}

async function pickRun(ctx: Ctx, arg: unknown, placeholder: string, filter: (r: RunSummary) => boolean): Promise<RunSummary | undefined> {
  const direct = runFrom(ctx, arg);
  if (direct) return direct;
  const runs = ctx.listRuns().filter(filter);
  if (runs.length === 0) {
    void vscode.window.showInformationMessage('Finetune Studio: no matching runs.');
    return undefined;
  }
  const choice = await vscode.window.showQuickPick(runs.map((r) => ({ label: r.name, description: r.status, run: r })), { placeHolder: placeholder });
  return choice?.run;
}

export async function fineTune(ctx: Ctx, arg?: unknown, options?: unknown): Promise<void> {
  if (!(await requireTrust())) return;
  const manager = requireManager(ctx);
  if (!manager) return;
  let uri = arg instanceof vscode.Uri ? arg : undefined;
  if (!uri) {
    const files = await ctx.datasets.list();
    const picked = files.length
      ? await vscode.window.showQuickPick(files.map((f) => ({ label: path.basename(f.fsPath), description: vscode.workspace.asRelativePath(f), uri: f })), { placeHolder: 'Dataset to fine-tune on' })
      : undefined;
    uri = picked?.uri ?? (files.length ? undefined : (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'JSON Lines': ['jsonl'] }, title: 'Dataset to fine-tune on' }))?.[0]);
  }
  if (!uri) return;
  const scan = await ctx.datasets.scanOf(uri);
  const services: WizardServices = {
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
  // `{ method: 'dpo' }` from the arena's "Train DPO on these votes"
  const method = (options as { method?: unknown } | undefined)?.method;
  const initialMethod = typeof method === 'string' && METHODS.some((m) => m.id === method) ? (method as Method) : undefined;
  const result = await runFineTuneWizard(vscodeWizardUI, services, uri.fsPath, scan, new Date(), initialMethod);
  if (!result) return;
  await ctx.rememberModel(result.config.model);
  const runId = manager.start(result.name, result.config);
  ctx.output.appendLine(`[${runId}] queued: ${result.config.model} on ${vscode.workspace.asRelativePath(uri)}`);
  const choice = await vscode.window.showInformationMessage(`Finetune Studio: run ${result.name} started.`, 'Show run');
  if (choice === 'Show run') await showRun(ctx, runId);
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

/** Downloads with a cancellable progress notification; failures are explained by kind. */
async function downloadFromHub(ctx: Ctx, repo: string): Promise<string | undefined> {
  const token = (await ctx.extensionContext.secrets.get(HF_TOKEN_SECRET)) ?? process.env.HF_TOKEN;
  try {
    return await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Downloading ${repo}`, cancellable: true },
      async (progress, cancel) => {
        const controller = new AbortController();
        cancel.onCancellationRequested(() => controller.abort());
        let reported = 0;
        return downloadModel({
          repo, cacheDir: ctx.modelCacheDir, hubUrl: ctx.settings.huggingFaceEndpoint, accessToken: token, signal: controller.signal,
          onProgress: (p) => {
            const pct = p.total > 0 ? (100 * p.received) / p.total : 0;
            progress.report({ message: `${p.file} — ${Math.floor(pct)}%`, increment: pct - reported });
            reported = pct;
          },
        });
      },
    );
  } catch (error) {
    const e = error instanceof HubError ? error : new HubError('other', String(error));
    if (e.kind === 'cancelled') return undefined;
    const actions = e.kind === 'unauthorized' ? ['Set Hugging Face Token'] : e.kind === 'offline' ? ['Open Model Folder…'] : [];
    const choice = await vscode.window.showErrorMessage(`Finetune Studio: ${e.message}`, ...actions);
    if (choice === 'Set Hugging Face Token') await setHubToken(ctx);
    if (choice === 'Open Model Folder…') return (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false }))?.[0]?.fsPath;
    return undefined;
  }
}

export async function setHubToken(ctx: Ctx): Promise<void> {
  const token = await vscode.window.showInputBox({ title: 'Hugging Face access token', prompt: 'Read token from huggingface.co/settings/tokens (stored in VS Code’s secret storage)', password: true, ignoreFocusOut: true });
  if (token === undefined) return;
  if (token.trim()) await ctx.extensionContext.secrets.store(HF_TOKEN_SECRET, token.trim());
  else await ctx.extensionContext.secrets.delete(HF_TOKEN_SECRET);
}

export async function stopRun(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = await pickRun(ctx, arg, 'Run to stop', (r) => r.status === 'running' || r.status === 'queued');
  if (!run) return;
  if (run.status !== 'running' && run.status !== 'queued') {
    void vscode.window.showInformationMessage(`Finetune Studio: run ${run.name} is ${run.status}.`);
    return;
  }
  await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Stopping ${run.name} (saving a checkpoint)…` }, () => ctx.manager!.stop(run.id));
}

export async function resumeRun(ctx: Ctx, arg?: unknown): Promise<void> {
  if (!(await requireTrust())) return;
  const run = await pickRun(ctx, arg, 'Run to resume', (r) => r.resumable);
  if (!run) return;
  try {
    ctx.manager!.resume(run.id);
  } catch (error) {
    void vscode.window.showErrorMessage(`Finetune Studio: ${(error as Error).message}`);
  }
}

export async function deleteRun(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = await pickRun(ctx, arg, 'Run to delete', () => true);
  if (!run) return;
  const detail = `${run.dir}\n${run.checkpoints.length} checkpoint(s)${run.adapter ? ' and the final adapter' : ''} will be deleted.${run.status === 'running' ? ' The run is training and will be stopped first.' : ''}`;
  const answer = await vscode.window.showWarningMessage(`Delete run ${run.name}?`, { modal: true, detail }, 'Delete');
  if (answer !== 'Delete') return;
  await ctx.manager!.delete(run.id);
}

export async function revealRunFolder(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = await pickRun(ctx, arg, 'Run folder to reveal', () => true);
  if (!run) return;
  const uri = vscode.Uri.file(run.dir);
  // the OS file manager where there is one; in a browser-hosted VS Code, the Explorer
  if (vscode.env.uiKind === vscode.UIKind.Desktop && vscode.env.remoteName === undefined) await vscode.commands.executeCommand('revealFileInOS', uri);
  else await vscode.commands.executeCommand('revealInExplorer', uri);
}

export async function showRunLog(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = runFrom(ctx, arg);
  const log = run ? path.join(run.dir, 'trainer.log') : undefined;
  if (log && fs.existsSync(log)) await vscode.window.showTextDocument(vscode.Uri.file(log), { preview: true });
  else ctx.output.show(true);
}

export async function openLossCurves(ctx: Ctx, arg?: unknown): Promise<void> {
  const run = await pickRun(ctx, arg, 'Run to chart', (r) => r.step > 0 || r.status === 'running');
  if (!run) return;
  openLossPanelFor(ctx, [run.dir]);
}

export async function compareRuns(ctx: Ctx, arg?: unknown, selected?: unknown[]): Promise<void> {
  // multi-selection in the Runs view arrives as the second argument
  let runs = (selected ?? []).map((s) => runFrom(ctx, s)).filter((r): r is RunSummary => r !== undefined);
  if (runs.length < 2) {
    const picks = await vscode.window.showQuickPick(
      ctx.listRuns().filter((r) => r.step > 0).map((r) => ({ label: r.name, description: `${r.status} · loss ${r.loss?.toFixed(4) ?? '?'}`, run: r, picked: runs.some((x) => x.id === r.id) || r.id === runFrom(ctx, arg)?.id })),
      { canPickMany: true, placeHolder: 'Runs to compare (pick two or more)' },
    );
    if (!picks) return;
    runs = picks.map((p) => p.run);
  }
  if (runs.length === 0) return;
  openLossPanelFor(ctx, runs.map((r) => r.dir));
}

function openLossPanelFor(ctx: Ctx, runDirs: string[]): void {
  const panel = loadLossPanel();
  if (!panel) {
    void vscode.window.showWarningMessage('Finetune Studio: the loss-curve panel is not available in this build yet. The metrics are in each run’s metrics.jsonl.');
    return;
  }
  panel.openLossPanel(ctx, runDirs);
}

export async function openPlayground(ctx: Ctx, arg?: unknown): Promise<void> {
  if (!(await requireTrust())) return; // it runs `ftune serve` on the model and adapter folders
  const playground = loadPlayground();
  if (!playground) {
    void vscode.window.showWarningMessage('Finetune Studio: the playground is not available in this build yet. Use `ftune generate --model DIR --adapter DIR` meanwhile.');
    return;
  }
  const entry = arg as Partial<CheckpointEntry> | undefined;
  if (entry?.kind === 'checkpoint' && entry.run && entry.path) {
    playground.openPlayground(ctx, { model: entry.run.model, adapter: entry.path });
    return;
  }
  const run = runFrom(ctx, arg);
  if (run) {
    const adapter = run.best?.path ?? run.adapter ?? run.checkpoints[run.checkpoints.length - 1]?.path;
    playground.openPlayground(ctx, adapter ? { model: run.model, adapter } : { model: run.model });
    return;
  }
  playground.openPlayground(ctx);
}

export async function copyCheckpointPath(_ctx: Ctx, arg?: unknown): Promise<void> {
  const entry = arg as Partial<CheckpointEntry> | undefined;
  if (entry?.kind !== 'checkpoint' || !entry.path) return;
  await vscode.env.clipboard.writeText(entry.path);
  void vscode.window.setStatusBarMessage(`Copied ${entry.path}`, 3000);
}

export function refresh(ctx: Ctx): void {
  ctx.datasets.refresh();
  ctx.runs.refresh();
  ctx.checkpoints.refresh();
}
