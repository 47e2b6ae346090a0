// Mask preview (host side): one panel per dataset file showing its first examples as the trainer sees
// them. The tokenizing runs in the CLI (`ftune preview FILE --model DIR --n N --json` with the format and
// --field mapping the Datasets view detected), so the extension host never loads a tokenizer and the
// preview masks exactly what `ftune train` would.

import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import { RestrictedModeError } from '../trust';
import { whenTrusted } from './webviewSetup';
import { describeMapping, formatLabel, scanJsonlFile, type DatasetScan } from '../datasetScan';
import type { PanelHost } from '../panelHost';
import {
  DEFAULT_PREVIEW_COUNT,
  isMaskPreviewToHost,
  parsePreviewOutput,
  previewCliArgs,
  restoreMaskPreviewState,
  type HostToMaskPreview,
  type MaskPreviewTarget,
  type MaskPreviewToHost,
} from './maskPreviewMessages';
import { runCli } from '../cliClient';
import { webviewHtml } from './webviewHtml';
import { buildDir, panelOptions } from './webviewSetup';

export const MASK_PREVIEW_VIEW_TYPE = 'finetuneStudio.maskPreview';

export interface MaskPreviewDeps {
  /** the detected format and column mapping of a dataset (the Datasets view's cached scan). */
  scan(file: string): Promise<DatasetScan>;
}

const defaultDeps: MaskPreviewDeps = { scan: (file) => scanJsonlFile(file) };

/** Open panels by dataset file: previewing the same file again reveals its panel. */
const openPanels = new Map<string, MaskPreviewPanel>();

export function openMaskPreview(host: PanelHost, target: MaskPreviewTarget, deps: MaskPreviewDeps = defaultDeps): MaskPreviewPanel {
  const file = path.resolve(target.file);
  const existing = openPanels.get(file);
  if (existing) {
    existing.reveal();
    existing.show({ ...target, file });
    return existing;
  }
  const panel = vscode.window.createWebviewPanel(MASK_PREVIEW_VIEW_TYPE, titleOf(file), vscode.ViewColumn.Active, panelOptions(host.extensionUri));
  return new MaskPreviewPanel(host, panel, { ...target, file }, deps);
}

const titleOf = (file: string): string => `Training Examples · ${path.basename(file)}`;

/** The HTML shell: the shared stylesheet, then the panel's own, under the same strict CSP as the other panels. */
function panelHtml(webview: vscode.Webview, extensionUri: vscode.Uri, title: string): string {
  const uri = (name: string): string => webview.asWebviewUri(vscode.Uri.joinPath(buildDir(extensionUri), name)).toString();
  return webviewHtml({
    title, cspSource: webview.cspSource, scriptUri: uri('maskPreview.js'), styleUri: uri('webview.css'), extraStyleUris: [uri('maskPreviewStyles.css')],
  });
}

/** Asks for the model whose tokenizer and chat template the preview uses: recent / workspace models, or a folder. */
export async function pickPreviewModel(host: PanelHost, current?: string): Promise<string | undefined> {
  type Item = vscode.QuickPickItem & { dir?: string };
  let known: { dir: string; label: string }[] = [];
  try {
    known = await host.knownModels();
  } catch (error) {
    host.output.appendLine(`preview: could not list known models: ${(error as Error).message}`);
  }
  const items: Item[] = known.map((m) => ({ label: `$(folder) ${m.label}`, description: m.dir === current ? 'current' : undefined, detail: m.dir, dir: m.dir }));
  items.push({ label: '$(folder-opened) Open a model folder…', description: 'tokenizer.json + tokenizer_config.json' });
  const picked = await vscode.window.showQuickPick(items, {
    title: 'Preview Training Examples',
    placeHolder: 'Model whose tokenizer and chat template to use',
    matchOnDetail: true,
    ignoreFocusOut: true,
  });
  if (!picked) return undefined;
  const dir = picked.dir ?? (await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, canSelectMany: false, title: 'Model folder (tokenizer.json, tokenizer_config.json)', openLabel: 'Use this tokenizer' }))?.[0]?.fsPath;
  if (!dir) return undefined;
  if (!fs.existsSync(path.join(dir, 'tokenizer.json'))) {
    void vscode.window.showErrorMessage(`Finetune Studio: ${dir} has no tokenizer.json — pick a Hugging Face model folder.`);
    return undefined;
  }
  await host.rememberModel(dir);
  return dir;
}

export class MaskPreviewPanel {
  private readonly disposables: vscode.Disposable[] = [];
  /** stops the `ftune preview` of the load in progress. */
  private cancelLoad: (() => void) | undefined;
  /** incremented per load: output of an older, superseded `ftune preview` is dropped. */
  private sequence = 0;
  private fileKey: string;

  constructor(
    private readonly host: PanelHost,
    private readonly panel: vscode.WebviewPanel,
    private target: MaskPreviewTarget,
    private readonly deps: MaskPreviewDeps = defaultDeps,
  ) {
    this.fileKey = path.resolve(target.file);
    openPanels.set(this.fileKey, this);
    panel.title = titleOf(target.file);
    panel.webview.options = panelOptions(host.extensionUri);
    panel.webview.html = panelHtml(panel.webview, host.extensionUri, panel.title);
    this.disposables.push(
      panel.webview.onDidReceiveMessage((message: unknown) => {
        if (!isMaskPreviewToHost(message)) {
          host.output.appendLine(`preview: ignored an unexpected message ${JSON.stringify(message)?.slice(0, 200)}`);
          return;
        }
        void this.onMessage(message);
      }),
      panel.onDidDispose(() => this.dispose()),
    );
  }

  reveal(): void {
    this.panel.reveal();
  }

  /** Shows another model or count for this file. */
  show(target: MaskPreviewTarget): void {
    this.target = target;
    void this.load();
  }

  private post(message: HostToMaskPreview): void {
    void this.panel.webview.postMessage(message);
  }

  private async onMessage(message: MaskPreviewToHost): Promise<void> {
    if (message.type !== 'openLine' && !vscode.workspace.isTrusted) {
      this.post({ type: 'error', target: this.target, message: new RestrictedModeError('the preview').message });
      return;
    }
    switch (message.type) {
      case 'ready':
        // also after the webview was recreated (hidden, then shown again)
        await this.load();
        return;
      case 'reload':
        this.target = { ...this.target, n: message.n };
        await this.load();
        return;
      case 'changeModel': {
        const model = await pickPreviewModel(this.host, this.target.model);
        if (!model) return;
        this.target = { ...this.target, model };
        await this.load();
        return;
      }
      case 'openLine': {
        const line = Math.max(0, message.line - 1);
        await vscode.window.showTextDocument(vscode.Uri.file(this.target.file), { selection: new vscode.Range(line, 0, line, 0), viewColumn: vscode.ViewColumn.Beside, preview: true });
        return;
      }
    }
  }

  private async load(): Promise<void> {
    const sequence = ++this.sequence;
    const target = { ...this.target };
    this.cancelLoad?.();
    this.cancelLoad = undefined;
    this.post({ type: 'loading', target });
    let scan: DatasetScan | undefined;
    try {
      scan = await this.deps.scan(target.file);
    } catch (error) {
      // the CLI reports an unreadable file with a better message than the scan would
      this.host.output.appendLine(`preview: could not scan ${target.file}: ${(error as Error).message}`);
    }
    if (sequence !== this.sequence) return;
    const detected = scan && scan.format !== 'unknown' ? { format: scan.format, fields: scan.fields } : undefined;
    const args = previewCliArgs(target, detected);
    this.host.output.appendLine(`preview: ftune ${args.join(' ')}`);
    let stdout = '';
    let stop: (() => void) | undefined;
    this.cancelLoad = () => stop?.();
    const outcome = await runCli((cliArgs, options) => this.host.spawnCli(cliArgs, options), args, {
      cwd: path.dirname(target.file),
      onLine: (line, stream) => {
        if (stream === 'stdout') stdout += line + '\n';
      },
      cancel: { onCancellationRequested: (listener) => ((stop = listener), { dispose: () => (stop = undefined) }) },
    });
    if (sequence !== this.sequence || outcome.cancelled) return;
    if (outcome.error !== undefined) {
      this.post({ type: 'error', target, message: outcome.error });
      return;
    }
    try {
      const examples = parsePreviewOutput(stdout);
      this.post({ type: 'examples', target, format: scan ? formatLabel(scan.format) : '', mapping: scan ? describeMapping(scan.fields) : '', examples });
    } catch (error) {
      this.post({ type: 'error', target, message: (error as Error).message });
    }
  }

  private dispose(): void {
    if (openPanels.get(this.fileKey) === this) openPanels.delete(this.fileKey);
    this.sequence += 1;
    this.cancelLoad?.();
    for (const d of this.disposables) d.dispose();
  }
}

/** Reopens previews after a window reload from the state the webview saved (file, model, count). */
export class MaskPreviewSerializer implements vscode.WebviewPanelSerializer<unknown> {
  constructor(private readonly host: PanelHost, private readonly deps: MaskPreviewDeps = defaultDeps) {}

  async deserializeWebviewPanel(panel: vscode.WebviewPanel, state: unknown): Promise<void> {
    const target = restoreMaskPreviewState(state);
    if (!target || !fs.existsSync(target.file) || openPanels.has(path.resolve(target.file))) {
      panel.dispose();
      return;
    }
    // A restored preview would run `ftune preview` on the workspace's model folder by itself: in
    // Restricted Mode it waits, paused, until the workspace is trusted.
    whenTrusted(panel, titleOf(target.file), () => new MaskPreviewPanel(this.host, panel, target, this.deps));
  }
}

export function registerMaskPreviewSerializer(host: PanelHost, deps?: MaskPreviewDeps): vscode.Disposable {
  return vscode.window.registerWebviewPanelSerializer(MASK_PREVIEW_VIEW_TYPE, new MaskPreviewSerializer(host, deps));
}

export { DEFAULT_PREVIEW_COUNT };
