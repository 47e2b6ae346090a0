// "Finetune Studio: Run Selection on Models…": the selection (or the whole file) as a user turn to the
// models picked (remembered per workspace), answers streamed into one read-only side document, with the
// playground's last decoding settings.

import * as vscode from 'vscode';
import { isDecodingOptions, type DecodingOptions } from '../../core/protocol';
import type { PanelHost } from '../panelHost';
import { modelChoices } from '../panels/modelChoices';
import type { ServePool } from '../panels/serveClient';
import { renderAnswers, type AnswerSection } from './answersDocument';
import { DEFAULT_DECODING, defaultPicks, describeDecoding, modelPicks } from './modelPicks';

export const ANSWERS_SCHEME = 'finetune-answers';
const PICKS_KEY = 'finetuneStudio.runSelection.picks';
/** The playground stores its decoding settings here on every generation (playgroundPanel.ts). */
export const PLAYGROUND_DECODING_KEY = 'finetuneStudio.playground.decoding';

/** Virtual, read-only documents whose text is replaced as answers stream in. */
export class AnswersDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly changed = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.changed.event;
  private readonly contents = new Map<string, string>();
  private next = 1;

  newUri(): vscode.Uri {
    return vscode.Uri.from({ scheme: ANSWERS_SCHEME, path: `/Answers ${this.next++}.md` });
  }

  set(uri: vscode.Uri, text: string): void {
    this.contents.set(uri.toString(), text);
    this.changed.fire(uri);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    return this.contents.get(uri.toString()) ?? '';
  }

  dispose(): void {
    this.changed.dispose();
  }
}

export function playgroundDecoding(host: PanelHost): DecodingOptions {
  const stored = host.extensionContext.globalState.get<unknown>(PLAYGROUND_DECODING_KEY);
  return isDecodingOptions(stored) ? stored : DEFAULT_DECODING;
}

export async function runSelectionOnModels(host: PanelHost, pool: ServePool, documents: AnswersDocuments): Promise<void> {
  const editor = vscode.window.activeTextEditor;
  if (!editor) throw new Error('open a file (and select text) to run on models');
  const prompt = editor.selection.isEmpty ? editor.document.getText() : editor.document.getText(editor.selection);
  if (prompt.trim() === '') throw new Error('the selection (or file) is empty');

  let known: string[] = [];
  try {
    known = (await host.knownModels()).map((m) => m.dir);
  } catch {
    // the runs' models are still offered
  }
  const picks = modelPicks(modelChoices(host.listRuns(), known));
  if (picks.length === 0) throw new Error('no models yet: fine-tune one, or open a model folder in the playground');
  const state = host.extensionContext.workspaceState;
  const preselected = new Set(defaultPicks(picks, state.get<string[]>(PICKS_KEY, [])).map((p) => p.key));
  const chosen = await vscode.window.showQuickPick(
    picks.map((p) => ({ label: p.label, description: p.description, picked: preselected.has(p.key), pick: p })),
    { canPickMany: true, title: 'Run Selection on Models', placeHolder: 'the base model and the checkpoints to compare' },
  );
  if (!chosen || chosen.length === 0) return;
  await state.update(PICKS_KEY, chosen.map((c) => c.pick.key));

  const options = playgroundDecoding(host);
  const settings = describeDecoding(options);
  const sections: AnswerSection[] = chosen.map((c) => ({ label: c.pick.label, text: '', state: 'waiting' }));
  const uri = documents.newUri();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const render = (now = false) => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (now) documents.set(uri, renderAnswers(prompt, sections, settings));
    else timer = setTimeout(() => render(true), 150); // at most a few redraws a second while streaming
  };
  render(true);
  const document = await vscode.workspace.openTextDocument(uri);
  await vscode.languages.setTextDocumentLanguage(document, 'markdown');
  await vscode.window.showTextDocument(document, { viewColumn: vscode.ViewColumn.Beside, preview: false, preserveFocus: true });

  const runId = `selection-${Date.now()}`;
  await vscode.window.withProgress(
    { location: vscode.ProgressLocation.Notification, title: 'Running the selection on models', cancellable: true },
    async (_progress, token) => {
      await Promise.all(
        chosen.map(async ({ pick }, index) => {
          const section = sections[index];
          const id = `${runId}/${index}`;
          const client = pool.get(pick.ref.model);
          const cancel = token.onCancellationRequested(() => client.cancel(id));
          try {
            const done = await client.generate(
              { id, ref: pick.ref, messages: [{ role: 'user', content: prompt }], options },
              {
                onStart: () => {
                  section.state = 'generating';
                  render();
                },
                onToken: (text) => {
                  section.text += text;
                  render();
                },
              },
            );
            Object.assign(section, { text: done.text, state: done.cancelled ? 'cancelled' : 'done', tokens: done.token_ids.length, tokensPerSecond: done.tokens_per_second });
          } catch (error) {
            Object.assign(section, { state: 'error', error: (error as Error).message });
          } finally {
            cancel.dispose();
            render(true);
          }
        }),
      );
    },
  );
}
