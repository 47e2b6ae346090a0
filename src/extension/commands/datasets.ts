// The dataset commands: Preview Training Examples (the mask-preview panel), Get a Dataset from Hugging
// Face…, Create a Pre-training Dataset from Files…, Split Dataset…. The decisions (paths, mappings,
// input checks, error actions) are in datasetFlow.ts; this file is the VS Code side of them.

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import {
  applyFieldMap,
  datasetStem,
  HubDatasetError,
  listHubDataset,
  provenancePath,
  readProvenance,
  splitFile,
  writeProvenance,
  type DatasetRecord,
  type HubDatasetListing,
} from '../../core/datasets';
import { HF_TOKEN_SECRET, setHubToken } from './hub';
import type { Ctx } from '../context';
import {
  checkCount, checkEvalShare, checkSeed, describeFiles, describeSplitResult, DownloadTally, hubErrorActions, hubErrorMessage, hubOutputPath, isDatasetId,
  mapJsonlFile, mappingChoices, previewRow,
} from '../datasetFlow';
import { runFromFilesJob } from '../fromFilesJob';
import { runHubPullJob, type HubPullSummary } from '../hubPullJob';
import { DEFAULT_PREVIEW_COUNT, openMaskPreview, pickPreviewModel } from '../panels/maskPreviewPanel';

const LAST_HUB_ID_KEY = 'finetuneStudio.lastHubDataset';
const HUB_TITLE = 'Get a Dataset from Hugging Face';

const relative = (file: string): string => vscode.workspace.asRelativePath(file, false);

/** The dataset a command means: an Explorer Uri, a Datasets view item, the open .jsonl editor, or one picked. */
async function datasetFrom(ctx: Ctx, arg: unknown, placeHolder: string): Promise<vscode.Uri | undefined> {
  if (arg instanceof vscode.Uri) return arg;
  const item = arg as { kind?: unknown; uri?: unknown } | undefined;
  if (item?.kind === 'file' && item.uri instanceof vscode.Uri) return item.uri;
  const active = vscode.window.activeTextEditor?.document.uri;
  if (active?.scheme === 'file' && active.fsPath.endsWith('.jsonl')) return active;
  const files = await ctx.datasets.list();
  if (files.length === 0) {
    return (await vscode.window.showOpenDialog({ canSelectMany: false, filters: { 'JSON Lines': ['jsonl'] }, title: placeHolder }))?.[0];
  }
  const picked = await vscode.window.showQuickPick(files.map((f) => ({ label: path.basename(f.fsPath), description: relative(f.fsPath), uri: f })), { placeHolder });
  return picked?.uri;
}

function requireFolder(ctx: Ctx): vscode.WorkspaceFolder | undefined {
  const folder = ctx.folder;
  if (!folder) void vscode.window.showWarningMessage('Finetune Studio: open a folder first — new datasets are written into the workspace.');
  return folder;
}

/** Asks before replacing files; true when none exist or the user agreed. */
async function confirmReplace(files: string[]): Promise<boolean> {
  const existing = files.filter((f) => fs.existsSync(f));
  if (existing.length === 0) return true;
  const answer = await vscode.window.showWarningMessage(`Replace ${existing.map(relative).join(', ')}?`, { modal: true, detail: 'The existing file and its provenance will be overwritten.' }, 'Replace');
  return answer === 'Replace';
}

// ------------------------------------------------------------------ Preview Training Examples

export async function previewTrainingExamples(ctx: Ctx, arg?: unknown): Promise<void> {
  // the CLI reads the workspace's model folder (tokenizer, chat template): like the playground, trusted only
  if (!vscode.workspace.isTrusted) {
    const choice = await vscode.window.showWarningMessage('Finetune Studio: previewing training examples runs the ftune CLI on workspace files, so the workspace must be trusted first.', 'Manage Workspace Trust');
    if (choice) await vscode.commands.executeCommand('workbench.trust.manage');
    return;
  }
  const uri = await datasetFrom(ctx, arg, 'Dataset to preview');
  if (!uri) return;
  const model = await pickPreviewModel(ctx);
  if (!model) return;
  openMaskPreview(ctx, { file: uri.fsPath, model, n: DEFAULT_PREVIEW_COUNT }, { scan: (file) => ctx.datasets.scanOf(vscode.Uri.file(file)) });
}

// ------------------------------------------------------------------ Get a Dataset from Hugging Face…

async function hubConnection(ctx: Ctx): Promise<{ endpoint: string; token?: string }> {
  const token = (await ctx.extensionContext.secrets.get(HF_TOKEN_SECRET)) ?? undefined;
  return { endpoint: ctx.settings.huggingFaceEndpoint, ...(token ? { token } : {}) };
}

/** Runs a Hub step; a failure becomes an error notification whose buttons lead somewhere useful. */
async function hubStep<T>(ctx: Ctx, datasetId: string, connection: { endpoint: string; token?: string }, step: () => PromiseLike<T>): Promise<T | undefined> {
  const { endpoint } = connection;
  try {
    return await step();
  } catch (error) {
    const e = error instanceof HubDatasetError ? error : new HubDatasetError('other', (error as Error).message ?? String(error));
    ctx.output.appendLine(`hub: ${datasetId}: ${e.kind}: ${e.message}`);
    if (e.kind === 'cancelled') return undefined;
    void vscode.window.showErrorMessage(`Finetune Studio: ${hubErrorMessage(e, datasetId, connection.token !== undefined)}`, ...hubErrorActions(e.kind)).then(async (choice) => {
      switch (choice) {
        case 'Set Hugging Face Token':
          await setHubToken(ctx);
          await vscode.commands.executeCommand('finetuneStudio.getHubDataset', datasetId);
          return;
        case 'Open Dataset Page':
          await vscode.env.openExternal(vscode.Uri.parse(`${endpoint.replace(/\/+$/, '')}/datasets/${datasetId}`));
          return;
        case 'Try Another Id':
        case 'Retry':
          await vscode.commands.executeCommand('finetuneStudio.getHubDataset', datasetId);
          return;
        case 'Open Endpoint Setting':
          await vscode.commands.executeCommand('workbench.action.openSettings', 'finetuneStudio.huggingFaceEndpoint');
          return;
        case 'Show Log':
          ctx.output.show(true);
          return;
      }
    });
    return undefined;
  }
}

/** Runs `work` under a cancellable notification; Cancel aborts its signal. */
function withCancellableProgress<T>(title: string, work: (progress: vscode.Progress<{ message?: string; increment?: number }>, signal: AbortSignal) => Promise<T>): Thenable<T> {
  return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title, cancellable: true }, (progress, token) => {
    const controller = new AbortController();
    token.onCancellationRequested(() => controller.abort());
    return work(progress, controller.signal);
  });
}

async function pickConfigAndSplit(listing: HubDatasetListing): Promise<{ config: string; split: string } | undefined> {
  let config = listing.configs[0];
  if (listing.configs.length > 1) {
    const picked = await vscode.window.showQuickPick(
      listing.configs.map((c) => ({ label: c.name, description: c.splits.map((s) => s.name).join(', '), detail: describeFiles(c.splits.flatMap((s) => s.files)), config: c })),
      { title: `${HUB_TITLE}: ${listing.hub_id}`, placeHolder: 'Configuration (subset)', ignoreFocusOut: true },
    );
    if (!picked) return undefined;
    config = picked.config;
  }
  let split = config.splits[0];
  if (config.splits.length > 1) {
    const ordered = [...config.splits].sort((a, b) => (a.name === 'train' ? -1 : b.name === 'train' ? 1 : 0));
    const picked = await vscode.window.showQuickPick(
      ordered.map((s) => ({ label: s.name, description: describeFiles(s.files), detail: s.name === 'train' ? 'to train on' : 'to evaluate on', split: s })),
      { title: `${HUB_TITLE}: ${listing.hub_id} · ${config.name}`, placeHolder: 'Split to download', ignoreFocusOut: true },
    );
    if (!picked) return undefined;
    split = picked.split;
  }
  return { config: config.name, split: split.name };
}

/** The first rows, then how to map their columns (undefined: cancelled). */
async function chooseMapping(result: HubPullSummary, title: string): Promise<Record<string, string> | undefined> {
  const first = result.preview[0];
  const rows = result.preview.map((record, i) => ({ label: `row ${i + 1}`, detail: previewRow(record, 240) }));
  const seen = await vscode.window.showQuickPick(rows, { title, placeHolder: `First rows of ${result.records} — Enter to choose the field mapping`, ignoreFocusOut: true, matchOnDetail: true });
  if (!seen) return undefined;
  type MapItem = vscode.QuickPickItem & { fields?: Record<string, string> };
  const sample = (fields: Record<string, string>): string | undefined => {
    try {
      return first ? `e.g. ${previewRow(applyFieldMap(first, fields), 200)}` : undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };
  const items: MapItem[] = mappingChoices(first).map((c) => ({ label: c.label, description: c.description, detail: sample(c.fields), fields: c.fields }));
  items.push({ label: 'Map columns by hand…', description: first ? `columns: ${Object.keys(first).join(', ')}` : undefined });
  const picked = await vscode.window.showQuickPick(items, { title, placeHolder: 'Field mapping: which columns the trainer reads', ignoreFocusOut: true });
  if (!picked) return undefined;
  return picked.fields ?? (await mapByHand(first, title));
}

async function mapByHand(first: DatasetRecord | undefined, title: string): Promise<Record<string, string> | undefined> {
  const columns = first ? Object.keys(first) : [];
  const format = await vscode.window.showQuickPick(
    [
      { label: 'prompt → completion', description: 'loss on the completion only', keys: ['prompt', 'completion'] },
      { label: 'chat messages', description: 'a list of {role, content}', keys: ['messages'] },
      { label: 'plain text', description: 'loss on every token', keys: ['text'] },
    ],
    { title, placeHolder: 'Format of the new file', ignoreFocusOut: true },
  );
  if (!format) return undefined;
  const fields: Record<string, string> = {};
  for (const key of format.keys) {
    const column = await vscode.window.showQuickPick(columns.map((c) => ({ label: c, detail: first ? previewRow({ [c]: first[c] }, 160) : undefined })), { title, placeHolder: `Column for "${key}"`, ignoreFocusOut: true });
    if (!column) return undefined;
    fields[key] = column.label;
  }
  return fields;
}

export async function getHubDataset(ctx: Ctx, arg?: unknown): Promise<void> {
  const folder = requireFolder(ctx);
  if (!folder) return;
  const state = ctx.extensionContext.workspaceState;
  const typed = await vscode.window.showInputBox({
    title: HUB_TITLE,
    prompt: `Dataset id on the Hub (from ${ctx.settings.huggingFaceEndpoint})`,
    placeHolder: 'openai/gsm8k',
    value: typeof arg === 'string' ? arg : state.get<string>(LAST_HUB_ID_KEY, ''),
    ignoreFocusOut: true,
    validateInput: (v) => (isDatasetId(v) ? undefined : 'a dataset id such as openai/gsm8k'),
  });
  if (!typed) return;
  const datasetId = typed.trim();
  await state.update(LAST_HUB_ID_KEY, datasetId);
  const connection = await hubConnection(ctx);

  const listing = await hubStep(ctx, datasetId, connection, () =>
    withCancellableProgress(`Listing ${datasetId}…`, (_progress, signal) => listHubDataset(datasetId, { ...connection, signal })),
  );
  if (!listing) return;
  if (listing.configs.length === 0) {
    void vscode.window.showErrorMessage(`Finetune Studio: ${datasetId} has no parquet, JSON, JSONL or CSV data files.`, 'Try Another Id').then((c) => c && vscode.commands.executeCommand('finetuneStudio.getHubDataset', datasetId));
    return;
  }
  const choice = await pickConfigAndSplit(listing);
  if (!choice) return;

  // the whole split lands in a scratch file first; the mapping step writes the workspace file from it
  const storage = ctx.extensionContext.globalStorageUri.fsPath;
  const pending = path.join(storage, 'datasets', 'pending', `${process.pid}-${Date.now()}.jsonl`);
  const files = listing.configs.find((c) => c.name === choice.config)?.splits.find((s) => s.name === choice.split)?.files ?? [];
  const tally = new DownloadTally(files.reduce((n, f) => n + f.size, 0));
  const label = `${datasetId} · ${choice.config}/${choice.split}`;
  try {
    const result = await hubStep(ctx, datasetId, connection, () =>
      withCancellableProgress(`Downloading ${label}`, async (progress, signal) => {
        let reported = 0;
        // the download and the conversion run in a `ftune data pull` child process that streams the
        // split to `pending`: a multi-GB split never passes through the extension host's memory
        return runHubPullJob({
          datasetId, config: choice.config, split: choice.split, revision: listing.revision, endpoint: connection.endpoint, token: connection.token,
          out: pending, cacheDir: path.join(storage, 'datasets', 'cache'), previewRows: 5, signal,
          spawnCli: (args, env) => ctx.spawnCli(args, { env, restrictedModeSafe: true }),
          onProgress: (p) => {
            const percent = tally.update(p.path, p.received);
            progress.report({ message: `${path.basename(p.path)} — ${Math.floor(percent)}%`, increment: percent - reported });
            reported = percent;
          },
          onRecords: (n) => progress.report({ message: `${n.toLocaleString()} rows converted` }),
        });
      }),
    );
    if (!result) return;
    ctx.output.appendLine(`hub: ${label} @ ${result.revision}: ${result.records} rows`);
    const title = `${HUB_TITLE}: ${label} · ${result.records} rows`;
    const fields = await chooseMapping(result, title);
    if (!fields) return;
    const suggested = hubOutputPath(datasetId, result.config, result.split);
    const where = await vscode.window.showInputBox({
      title, prompt: 'Save as (relative to the workspace folder)', value: suggested, valueSelection: [suggested.lastIndexOf('/') + 1, suggested.length - '.jsonl'.length], ignoreFocusOut: true,
      validateInput: (v) => (/\.jsonl$/.test(v.trim()) ? undefined : 'a .jsonl file'),
    });
    if (!where) return;
    const target = path.resolve(folder.uri.fsPath, where.trim());
    if (!(await confirmReplace([target]))) return;
    const records = await mapJsonlFile(pending, target, fields);
    const origin = readProvenance(pending);
    writeProvenance(target, {
      ...(origin ?? { source: 'hub', role: result.split === 'train' ? 'train' : 'eval', created_at: new Date().toISOString(), hub_id: datasetId, revision: result.revision, config: result.config, split: result.split }),
      records,
      ...(Object.keys(fields).length ? { field_map: fields } : {}),
    });
    const next = await vscode.window.showInformationMessage(`Finetune Studio: saved ${relative(target)} — ${records} rows of ${label} @ ${result.revision.slice(0, 7)}.`, 'Open', 'Preview Training Examples', 'Split Dataset…');
    if (next === 'Open') await vscode.window.showTextDocument(vscode.Uri.file(target), { preview: true });
    if (next === 'Preview Training Examples') await vscode.commands.executeCommand('finetuneStudio.previewTrainingExamples', vscode.Uri.file(target));
    if (next === 'Split Dataset…') await vscode.commands.executeCommand('finetuneStudio.splitDataset', vscode.Uri.file(target));
  } finally {
    fs.rmSync(pending, { force: true });
    fs.rmSync(provenancePath(pending), { force: true });
  }
}

// ------------------------------------------------------------------ Create a Pre-training Dataset from Files…

export async function createPretrainingDataset(ctx: Ctx, arg?: unknown): Promise<void> {
  const folder = requireFolder(ctx);
  if (!folder) return;
  const title = 'Create a Pre-training Dataset from Files';
  const roots = arg instanceof vscode.Uri
    ? [arg]
    : await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: true, defaultUri: folder.uri, openLabel: 'Use these folders', title: `${title}: folders to read (.gitignore is respected)` });
  if (!roots?.length) return;
  const globText = await vscode.window.showInputBox({
    title, prompt: 'Only files matching these patterns (comma-separated; empty: every text file)', placeHolder: '**/*.md, src/**/*.ts', ignoreFocusOut: true,
  });
  if (globText === undefined) return;
  const globs = globText.split(',').map((g) => g.trim()).filter((g) => g !== '');
  const suggested = `data/${path.basename(roots[0].fsPath).replace(/[^A-Za-z0-9._-]/g, '_') || 'files'}-pretrain.jsonl`;
  const where = await vscode.window.showInputBox({ title, prompt: 'Save as (relative to the workspace folder)', value: suggested, ignoreFocusOut: true, validateInput: (v) => (/\.jsonl$/.test(v.trim()) ? undefined : 'a .jsonl file') });
  if (!where) return;
  const target = path.resolve(folder.uri.fsPath, where.trim());
  if (!(await confirmReplace([target]))) return;
  const folders = roots.map((r) => r.fsPath);
  fs.mkdirSync(path.dirname(target), { recursive: true });
  // The walk runs in a `ftune data from-files` child process (a large tree or a hostile .gitignore
  // never freezes the window) and replaces the target only once it has produced a complete file.
  let summary: string[];
  try {
    ({ summary } = await withCancellableProgress(`Reading ${folders.map(relative).join(', ')}…`, (_progress, signal) =>
      runFromFilesJob({ folders, globs, target, signal, spawnCli: (args) => ctx.spawnCli(args, { cwd: folder.uri.fsPath, restrictedModeSafe: true }) })));
  } catch (error) {
    const message = (error as Error).message;
    if (message === 'cancelled') return;
    void vscode.window.showErrorMessage(`Finetune Studio: ${message.startsWith('no text found') ? `no text found in ${folders.map(relative).join(', ')}${globs.length ? ` matching ${globs.join(', ')}` : ''} (files listed in .gitignore are left out)` : message}.`);
    return;
  }
  const records = /^(\d+) records from (\d+) file/.exec(summary[0] ?? '');
  const skipped = summary.find((l) => l.startsWith('skipped'));
  ctx.output.appendLine(`files: ${summary.join('; ')} (saved as ${target})`);
  const next = await vscode.window.showInformationMessage(`Finetune Studio: saved ${relative(target)} — ${records ? `${records[1]} text chunks from ${records[2]} files` : summary[0] ?? ''}${skipped ? ` (${skipped})` : ''}.`, 'Open');
  if (next === 'Open') await vscode.window.showTextDocument(vscode.Uri.file(target), { preview: true });
}

// ------------------------------------------------------------------ Split Dataset…

export async function splitDataset(ctx: Ctx, arg?: unknown): Promise<void> {
  const uri = await datasetFrom(ctx, arg, 'Dataset to split');
  if (!uri) return;
  const title = `Split ${path.basename(uri.fsPath)}`;
  const ask = (step: number, prompt: string, value: string, validateInput: (v: string) => string | undefined): Thenable<string | undefined> =>
    vscode.window.showInputBox({ title: `${title} (${step}/3)`, prompt, value, ignoreFocusOut: true, validateInput });
  const evalShare = await ask(1, 'Evaluation split: a fraction (0.1 = 10 %) or a number of examples', '0.1', checkEvalShare);
  if (evalShare === undefined) return;
  const golden = await ask(2, 'Golden set: how many examples to keep aside for before/after comparisons (0 for none)', '0', checkCount);
  if (golden === undefined) return;
  const seed = await ask(3, 'Seed (the same seed gives the same split)', '42', checkSeed);
  if (seed === undefined) return;
  const dir = path.dirname(uri.fsPath);
  const stem = datasetStem(uri.fsPath);
  const outputs = ['train', 'eval', 'golden'].map((role) => path.join(dir, `${stem}.${role}.jsonl`));
  if (!(await confirmReplace(outputs))) return;
  let result: ReturnType<typeof splitFile>;
  try {
    result = splitFile(uri.fsPath, { eval: Number(evalShare), golden: Number(golden), seed: Number(seed) });
  } catch (error) {
    void vscode.window.showErrorMessage(`Finetune Studio: cannot split ${relative(uri.fsPath)}: ${(error as Error).message}`);
    return;
  }
  const counts = { train: result.train.length, eval: result.eval.length, golden: result.golden.length, duplicates: result.duplicates };
  ctx.output.appendLine(`split: ${uri.fsPath} → ${Object.values(result.files).join(', ')}`);
  const next = await vscode.window.showInformationMessage(`Finetune Studio: split ${relative(uri.fsPath)} into ${describeSplitResult(counts)}.`, 'Fine-tune on the Train Split');
  if (next && result.files.train) await vscode.commands.executeCommand('finetuneStudio.fineTune', vscode.Uri.file(result.files.train));
}
