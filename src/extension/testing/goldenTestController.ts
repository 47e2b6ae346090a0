// Golden sets in the Testing view (vscode.tests.createTestController): each golden JSONL of the workspace
// is a test file, each example a test at its line. Run profiles "Run on base" and "Run on <checkpoint>"
// generate greedily through `ftune serve` and score by exact match, as `ftune eval --metric exact-match`.

import * as path from 'path';
import * as vscode from 'vscode';
import type { ChatModelEntry } from '../chat/chatModels';
import type { ServePool } from '../panels/serveClient';
import { caseRequest, isGoldenFile, passRate, readGoldenFile, scoreCase, type GoldenCase } from './goldenCases';

export interface GoldenTestHost {
  output: vscode.OutputChannel;
  /** the models to offer run profiles for (bases of the runs, final adapters, opted-in checkpoints). */
  models(): ChatModelEntry[];
  readonly onDidChangeModels: vscode.Event<void>;
}

function profileLabel(entry: ChatModelEntry, bases: number): string {
  if (!entry.ref.adapter) return bases > 1 ? `Run on base (${entry.name})` : 'Run on base';
  // "Qwen + run (step 600)" → "Run on run (step 600)"
  return `Run on ${entry.name.slice(entry.family.length + 3)}`;
}

export class GoldenTestController implements vscode.Disposable {
  private readonly controller = vscode.tests.createTestController('finetuneStudio.goldenSets', 'Finetune Studio golden sets');
  private readonly cases = new WeakMap<vscode.TestItem, GoldenCase>();
  private readonly profiles = new Map<string, vscode.TestRunProfile>();
  private readonly disposables: vscode.Disposable[] = [];
  private nextRun = 0;

  constructor(private readonly host: GoldenTestHost, private readonly pool: ServePool) {
    this.controller.resolveHandler = async (item) => {
      if (!item) await this.discover();
      else await this.loadFile(item);
    };
    this.controller.refreshHandler = () => this.discover();
    const watcher = vscode.workspace.createFileSystemWatcher('**/*.{jsonl,json}');
    const refresh = (uri: vscode.Uri) => void this.onFileChanged(uri);
    this.disposables.push(watcher, watcher.onDidCreate(refresh), watcher.onDidChange(refresh), watcher.onDidDelete(refresh), host.onDidChangeModels(() => this.updateProfiles()));
    this.updateProfiles();
  }

  /** Every golden file of the workspace, as a test file whose examples load when expanded (or run). */
  async discover(): Promise<void> {
    const uris = await vscode.workspace.findFiles('**/*.jsonl', '**/{node_modules,.git}/**');
    const golden = uris.filter((u) => isGoldenFile(u.fsPath));
    const items = golden.map((uri) => this.controller.items.get(uri.toString()) ?? this.fileItem(uri));
    this.controller.items.replace(items);
  }

  private fileItem(uri: vscode.Uri): vscode.TestItem {
    const item = this.controller.createTestItem(uri.toString(), vscode.workspace.asRelativePath(uri), uri);
    item.canResolveChildren = true;
    return item;
  }

  private async onFileChanged(uri: vscode.Uri): Promise<void> {
    // a `.source.json` sidecar (Split Dataset) makes its JSONL golden
    const jsonl = uri.fsPath.endsWith('.source.json') ? vscode.Uri.file(uri.fsPath.slice(0, -'.source.json'.length)) : uri;
    if (!jsonl.fsPath.endsWith('.jsonl')) return;
    const existing = this.controller.items.get(jsonl.toString());
    let golden = false;
    try {
      golden = isGoldenFile(jsonl.fsPath) && (await vscode.workspace.fs.stat(jsonl)) !== undefined;
    } catch {
      golden = false; // deleted
    }
    if (!golden) {
      if (existing) this.controller.items.delete(existing.id);
      return;
    }
    const item = existing ?? this.fileItem(jsonl);
    if (!existing) this.controller.items.add(item);
    else if (item.children.size > 0) await this.loadFile(item);
  }

  private async loadFile(item: vscode.TestItem): Promise<void> {
    if (!item.uri) return;
    item.busy = true;
    try {
      const file = await readGoldenFile(item.uri.fsPath);
      item.error = file.problems.length > 0
        ? `${file.problems.length} problem(s), first: line ${file.problems[0].line}: ${file.problems[0].reason}`
        : file.cases.length === 0 ? 'no examples with a prompt and a reference answer' : undefined;
      const children = file.cases.map((c) => {
        const child = this.controller.createTestItem(`${item.id}#${c.line}`, c.label, item.uri);
        child.range = new vscode.Range(c.line - 1, 0, c.line - 1, 0);
        this.cases.set(child, c);
        return child;
      });
      item.children.replace(children);
    } catch (error) {
      item.error = (error as Error).message;
    } finally {
      item.busy = false;
    }
  }

  /** One run profile per model; kept in step with the runs and the chat opt-ins. */
  private updateProfiles(): void {
    const models = this.host.models();
    const bases = models.filter((m) => !m.ref.adapter).length;
    const wanted = new Set(models.map((m) => m.id));
    for (const [id, profile] of this.profiles) {
      if (!wanted.has(id)) {
        profile.dispose();
        this.profiles.delete(id);
      }
    }
    for (const [index, model] of models.entries()) {
      const label = profileLabel(model, bases);
      const existing = this.profiles.get(model.id);
      if (existing) {
        existing.label = label;
        continue;
      }
      const profile = this.controller.createRunProfile(label, vscode.TestRunProfileKind.Run, (request, token) => this.run(model.id, request, token), index === 0);
      this.profiles.set(model.id, profile);
    }
  }

  private async collect(request: vscode.TestRunRequest): Promise<vscode.TestItem[]> {
    const roots: vscode.TestItem[] = [];
    if (request.include) roots.push(...request.include);
    else this.controller.items.forEach((item) => roots.push(item));
    const excluded = new Set(request.exclude ?? []);
    const cases: vscode.TestItem[] = [];
    for (const root of roots) {
      if (excluded.has(root)) continue;
      if (this.cases.has(root)) {
        cases.push(root);
        continue;
      }
      if (root.children.size === 0) await this.loadFile(root);
      root.children.forEach((child) => {
        if (!excluded.has(child)) cases.push(child);
      });
    }
    return cases;
  }

  private async run(modelId: string, request: vscode.TestRunRequest, token: vscode.CancellationToken): Promise<void> {
    const model = this.host.models().find((m) => m.id === modelId);
    const run = this.controller.createTestRun(request, model ? `Golden set on ${model.name}` : undefined);
    try {
      if (!model) throw new Error('this model is no longer available (its run was deleted)');
      const items = await this.collect(request);
      for (const item of items) run.enqueued(item);
      const client = this.pool.get(model.ref.model);
      const perFile = new Map<vscode.TestItem, { passed: number; total: number }>();
      const runId = `golden-${this.nextRun++}`;
      for (const [index, item] of items.entries()) {
        const c = this.cases.get(item) as GoldenCase;
        if (token.isCancellationRequested) {
          run.skipped(item);
          continue;
        }
        run.started(item);
        const id = `${runId}/${index}`;
        const cancel = token.onCancellationRequested(() => client.cancel(id));
        const started = Date.now();
        try {
          const done = await client.generate(caseRequest(id, c, model.ref));
          const duration = Date.now() - started;
          if (done.cancelled) {
            run.skipped(item);
            continue;
          }
          const score = scoreCase(c.reference, done.text);
          const file = item.parent as vscode.TestItem;
          const tally = perFile.get(file) ?? { passed: 0, total: 0 };
          tally.total += 1;
          if (score.pass) {
            tally.passed += 1;
            run.passed(item, duration);
          } else {
            const message = vscode.TestMessage.diff(score.summary, c.reference, done.text);
            if (item.uri && item.range) message.location = new vscode.Location(item.uri, item.range);
            run.failed(item, message, duration);
          }
          perFile.set(file, tally);
        } catch (error) {
          run.errored(item, new vscode.TestMessage((error as Error).message), Date.now() - started);
        } finally {
          cancel.dispose();
        }
      }
      for (const [file, tally] of perFile) {
        file.description = passRate(tally.passed, tally.total, model.name);
        run.appendOutput(`${path.basename(file.uri?.fsPath ?? file.label)}: ${file.description}\r\n`);
      }
    } catch (error) {
      run.appendOutput(`${(error as Error).message}\r\n`);
      this.host.output.appendLine(`golden set run: ${(error as Error).message}`);
    } finally {
      run.end();
    }
  }

  dispose(): void {
    for (const d of this.disposables) d.dispose();
    for (const p of this.profiles.values()) p.dispose();
    this.controller.dispose();
  }
}
