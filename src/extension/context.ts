// The one object that owns the extension's state (rust-analyzer style): settings, the run manager
// and its trainer processes, the three views, the status bar and the output channel. Commands get
// it as their only argument. It also implements PanelHost for the webview panels.

import type { ChildProcessWithoutNullStreams } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { TrainerEvent } from '../core/protocol';
import type { BackendName } from '../core/runConfig';
import { METRICS_FILE, readEvents, type RunSummary } from '../core/runStore';
import { startCli } from './cliClient';
import { cliInvocation, locateCli } from './cliInvocation';
import { readSettings, resolveWorkspacePath, type Settings } from './config';
import type { PanelHost } from './panelHost';
import { RunEvents } from './runEvents';
import { RunManager } from './runManager';
import { TrainingStatusBar } from './statusBar';
import { trustGatedSpawner } from './trust';
import { CheckpointsProvider, type CheckpointEntry } from './views/checkpointsView';
import { DatasetsProvider } from './views/datasetsView';
import { RunsProvider } from './views/runsView';
import type { ModelChoice } from './wizard';

const RECENT_MODELS_KEY = 'finetuneStudio.recentModels';
const MAX_RECENT_MODELS = 10;

export class Ctx implements PanelHost, vscode.Disposable {
  readonly output = vscode.window.createOutputChannel('Finetune Studio');
  readonly cliPath: string;
  readonly datasets = new DatasetsProvider();
  readonly runs: RunsProvider;
  readonly checkpoints: CheckpointsProvider;
  readonly runsTree: vscode.TreeView<RunSummary>;
  readonly checkpointsTree: vscode.TreeView<CheckpointEntry>;
  readonly statusBar = new TrainingStatusBar();
  settings: Settings = readSettings();
  private managerInstance: RunManager | undefined;
  private readonly runsChanged = new vscode.EventEmitter<void>();
  readonly onDidChangeRuns = this.runsChanged.event;
  /** live events per run folder: this window's trainers' stdout, else metrics.jsonl tailed. */
  private readonly runEvents = new RunEvents((runDir) => this.managerInstance?.isOwned(path.basename(runDir)) ?? false);
  private readonly disposables: vscode.Disposable[] = [];
  private refreshTimer: NodeJS.Timeout | undefined;

  constructor(readonly extensionContext: vscode.ExtensionContext) {
    this.cliPath = locateCli(extensionContext.extensionPath);
    const source = { list: () => this.listRuns(), queuePosition: (id: string) => this.managerInstance?.queuePosition(id) ?? 0, onDidChange: this.onDidChangeRuns };
    this.runs = new RunsProvider(source);
    this.checkpoints = new CheckpointsProvider(source);
    // several runs can be selected for "Compare Runs…"
    this.runsTree = vscode.window.createTreeView('finetuneStudio.runs', { treeDataProvider: this.runs, showCollapseAll: false, canSelectMany: true });
    this.checkpointsTree = vscode.window.createTreeView('finetuneStudio.checkpoints', { treeDataProvider: this.checkpoints, showCollapseAll: true });
    this.disposables.push(
      vscode.window.registerTreeDataProvider('finetuneStudio.datasets', this.datasets),
      this.datasets, this.runs, this.checkpoints, this.runsTree, this.checkpointsTree, this.statusBar, this.output, this.runsChanged,
      vscode.workspace.onDidChangeConfiguration((e) => { if (e.affectsConfiguration('finetuneStudio')) this.reloadSettings(); }),
      vscode.workspace.onDidChangeWorkspaceFolders(() => this.reloadSettings()),
    );
    this.watchRunsDirectory();
    this.onDidChangeRuns(() => this.statusBar.update(this.listRuns()));
    this.statusBar.update(this.listRuns());
  }

  /** The workspace folder runs belong to (the first one). */
  get folder(): vscode.WorkspaceFolder | undefined {
    return vscode.workspace.workspaceFolders?.[0];
  }

  get runsDir(): string | undefined {
    return this.folder ? resolveWorkspacePath(this.settings.runsDirectory, this.folder) : undefined;
  }

  /** The run manager; undefined without a workspace folder (runs live inside one). */
  get manager(): RunManager | undefined {
    const runsDir = this.runsDir;
    if (!runsDir) return undefined;
    if (this.managerInstance?.runsDir !== runsDir) {
      void this.managerInstance?.dispose();
      this.managerInstance = this.createManager(runsDir);
    }
    return this.managerInstance;
  }

  private createManager(runsDir: string): RunManager {
    const manager = new RunManager({
      runsDir,
      invocation: (args) => this.invocation(args),
      maxConcurrent: this.settings.maxConcurrentRuns,
      stopTimeoutMs: this.settings.stopTimeoutSeconds * 1000,
    });
    manager.onDidChange.on(() => this.fireRunsChanged());
    manager.onEvent.on(({ runId, event }) => {
      this.logEvent(runId, event);
      this.runEvents.deliver(manager.dirOf(runId), event);
    });
    manager.onOutput.on(({ runId, line }) => this.output.appendLine(`[${runId}] ${line}`));
    manager.onWarning.on(({ runId, message }) => this.output.appendLine(`[${runId}] warning: ${message}`));
    manager.onFinished.on((f) => this.notifyFinished(f.runId, f.status, f.error));
    return manager;
  }

  listRuns(): RunSummary[] {
    return this.manager?.list() ?? [];
  }

  readRunEvents(runDir: string): TrainerEvent[] {
    return readEvents(runDir);
  }

  onRunEvent(runDir: string, listener: (event: TrainerEvent) => void): vscode.Disposable {
    const subscription = this.runEvents.subscribe(runDir, listener);
    return new vscode.Disposable(() => subscription.dispose());
  }

  async knownModels(): Promise<ModelChoice[]> {
    const recent = this.extensionContext.globalState.get<string[]>(RECENT_MODELS_KEY, []).filter((dir) => fs.existsSync(path.join(dir, 'config.json')));
    const choices: ModelChoice[] = recent.map((dir) => ({ dir, label: path.basename(dir), source: 'recent' }));
    const configs = await vscode.workspace.findFiles('**/config.json', '{**/node_modules/**,**/.finetune/**,**/.git/**}', 200);
    for (const uri of configs) {
      const dir = path.dirname(uri.fsPath);
      if (recent.includes(dir) || checkModelFolder(dir)) continue;
      choices.push({ dir, label: path.basename(dir), source: 'workspace' });
    }
    return choices;
  }

  async rememberModel(dir: string): Promise<void> {
    const recent = this.extensionContext.globalState.get<string[]>(RECENT_MODELS_KEY, []).filter((d) => d !== dir);
    await this.extensionContext.globalState.update(RECENT_MODELS_KEY, [dir, ...recent].slice(0, MAX_RECENT_MODELS));
  }

  backend(): BackendName {
    return this.settings.backend;
  }

  invocation(args: readonly string[]) {
    return cliInvocation(this.cliPath, args, { nodePath: this.settings.nodePath });
  }

  /** Every CLI process starts here, and none starts in Restricted Mode (see trust.ts). */
  readonly spawnCli = trustGatedSpawner(
    () => vscode.workspace.isTrusted,
    (args, options): ChildProcessWithoutNullStreams => {
      return startCli(this.invocation(args), { cwd: options.cwd ?? this.folder?.uri.fsPath, env: options.env });
    },
  );

  get extensionUri(): vscode.Uri {
    return this.extensionContext.extensionUri;
  }

  /** Where Hub downloads go: the setting, or the extension's global storage. */
  get modelCacheDir(): string {
    const setting = this.settings.modelCacheDirectory.trim();
    if (setting) return this.folder ? resolveWorkspacePath(setting, this.folder) : setting;
    return path.join(this.extensionContext.globalStorageUri.fsPath, 'models');
  }

  private reloadSettings(): void {
    this.settings = readSettings();
    this.managerInstance?.setMaxConcurrent(this.settings.maxConcurrentRuns);
    this.watchRunsDirectory();
    this.fireRunsChanged();
  }

  private runsWatcher: vscode.Disposable | undefined;

  /**
   * Runs may be written by other windows or by `ftune train` in a terminal: watch the runs folder
   * so the views follow them, and tail metrics.jsonl for panels subscribed to such runs (runEvents.ts).
   */
  private watchRunsDirectory(): void {
    this.runsWatcher?.dispose();
    const runsDir = this.runsDir;
    if (!runsDir) return;
    const watcher = vscode.workspace.createFileSystemWatcher(new vscode.RelativePattern(vscode.Uri.file(runsDir), '**/{status.json,metrics.jsonl,trainer_state.json}'));
    const onChange = (uri: vscode.Uri): void => {
      if (path.basename(uri.fsPath) === METRICS_FILE) this.runEvents.fileChanged(path.dirname(uri.fsPath));
      this.fireRunsChanged();
    };
    const watching = [watcher, watcher.onDidChange(onChange), watcher.onDidCreate(onChange), watcher.onDidDelete(onChange)];
    this.runsWatcher = new vscode.Disposable(() => watching.forEach((d) => d.dispose()));
  }

  /** Coalesces bursts (a step event, status.json and metrics.jsonl change together). */
  private fireRunsChanged(): void {
    if (this.refreshTimer) return;
    this.refreshTimer = setTimeout(() => {
      this.refreshTimer = undefined;
      this.runsChanged.fire();
    }, 150);
  }

  private logEvent(runId: string, event: TrainerEvent): void {
    const line = formatEvent(event);
    if (line) this.output.appendLine(`[${runId}] ${line}`);
  }

  private notifyFinished(runId: string, status: string, error?: string): void {
    const run = this.managerInstance?.get(runId);
    const name = run?.name ?? runId;
    if (status === 'completed') {
      const loss = run?.loss !== undefined ? ` (final loss ${run.loss.toFixed(4)})` : '';
      void vscode.window.showInformationMessage(`Finetune Studio: run ${name} completed${loss}.`, 'Open loss curves', 'Open playground').then((choice) => {
        if (choice === 'Open loss curves') void vscode.commands.executeCommand('finetuneStudio.openLossCurves', run);
        if (choice === 'Open playground') void vscode.commands.executeCommand('finetuneStudio.openPlayground', run);
      });
    } else if (status === 'failed') {
      this.output.appendLine(`[${runId}] failed: ${error ?? 'unknown error'}`);
      void vscode.window.showErrorMessage(`Finetune Studio: run ${name} failed: ${error ?? 'unknown error'}`, 'Show log').then((choice) => {
        if (choice === 'Show log') this.output.show(true);
      });
    } else if (status === 'stopped') {
      void vscode.window.showInformationMessage(`Finetune Studio: run ${name} stopped at step ${run?.step ?? 0}; Resume continues from its last checkpoint.`);
    }
  }

  async dispose(): Promise<void> {
    clearTimeout(this.refreshTimer);
    this.runsWatcher?.dispose();
    await this.managerInstance?.dispose();
    for (const d of this.disposables) d.dispose();
  }
}

/** An error message when `dir` is not a model folder the trainer can load, else undefined. */
export function checkModelFolder(dir: string): string | undefined {
  if (!fs.existsSync(path.join(dir, 'config.json'))) return `${dir} is not a Hugging Face model folder: it has no config.json`;
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) return `${dir} has no tokenizer.json (the trainer needs the fast tokenizer file)`;
  let names: string[] = [];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return `${dir} cannot be read`;
  }
  if (!names.some((n) => n.endsWith('.safetensors'))) return `${dir} has no .safetensors weights`;
  return undefined;
}

/** One readable output-channel line per trainer event. */
export function formatEvent(event: TrainerEvent): string | undefined {
  switch (event.type) {
    case 'started':
      return `started: ${event.model} on ${event.backend}, ${event.examples} examples (${event.skipped} skipped), ${event.total_steps} steps, ${event.trainable_parameters} trainable parameters${event.resumed_from_step ? `, resumed from step ${event.resumed_from_step}` : ''}`;
    case 'step':
      return `step ${event.step}/${event.total_steps} loss ${event.loss.toFixed(4)} lr ${event.lr.toExponential(2)} grad_norm ${event.grad_norm.toFixed(3)} ${Math.round(event.tokens_per_second)} tok/s`;
    case 'eval':
      return `eval at step ${event.step}: loss ${event.eval_loss.toFixed(4)} perplexity ${event.perplexity.toFixed(2)}`;
    case 'checkpoint':
      return `checkpoint step ${event.step}: ${event.path}`;
    case 'log':
      return `${event.level}: ${event.message}`;
    case 'done':
      return `done at step ${event.step} in ${event.elapsed.toFixed(1)}s: adapter ${event.adapter_path}`;
    case 'stopped':
      return `stopped at step ${event.step}${event.checkpoint ? `, checkpoint ${event.checkpoint}` : ''}`;
    case 'failed':
      return `failed: ${event.error}`;
  }
}
