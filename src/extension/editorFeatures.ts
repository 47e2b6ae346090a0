// Issue 17's editor features, set up in one place (main.ts calls registerEditorFeatures): the chat
// model provider, golden sets in the Testing view, the LM tools and the answers documents. They share
// one pool of `ftune serve` processes (chat/sharedServe.ts). Their commands ("Use in Chat", Run
// Selection on Models) are in commands/editor.ts, registered from the one table.

import * as vscode from 'vscode';
import { ChatOptIns } from './chat/chatOptIns';
import { chatModelEntries, entriesKey, type ChatModelEntry } from './chat/chatModels';
import { CHAT_VENDOR, chatMaxNewTokens, contextLengthOf, FinetuneChatProvider } from './chat/provider';
import { disposeSharedServePool, sharedServePool } from './chat/sharedServe';
import type { Ctx } from './context';
import { GoldenTestController } from './testing/goldenTestController';
import { registerTools } from './tools/registerTools';
import type { ServePool } from './panels/serveClient';
import { ANSWERS_SCHEME, AnswersDocuments } from './selection/runSelection';

/**
 * Models that golden sets can run on: every base of the runs, every run's final adapter, and the
 * checkpoints opted in for chat.
 */
function goldenModels(ctx: Ctx, optIns: ChatOptIns): ChatModelEntry[] {
  const runs = ctx.listRuns();
  const inUse = new Set([...optIns.paths(), ...runs.flatMap((r) => (r.adapter ? [r.adapter] : []))]);
  return chatModelEntries(runs, inUse, contextLengthOf, chatMaxNewTokens());
}

function goldenTests(ctx: Ctx, optIns: ChatOptIns, pool: ServePool): vscode.Disposable[] {
  const changed = new vscode.EventEmitter<void>();
  let key = entriesKey(goldenModels(ctx, optIns));
  const check = () => {
    const next = entriesKey(goldenModels(ctx, optIns));
    if (next !== key) {
      key = next;
      changed.fire();
    }
  };
  const controller = new GoldenTestController({ output: ctx.output, models: () => goldenModels(ctx, optIns), onDidChangeModels: changed.event }, pool);
  void controller.discover();
  return [changed, ctx.onDidChangeRuns(check), optIns.onDidChange(check), controller];
}

/** What the editor features' commands (commands/editor.ts) work with. */
export interface EditorFeatures {
  pool: ServePool;
  optIns: ChatOptIns;
  provider: FinetuneChatProvider;
  answers: AnswersDocuments;
}

export function registerEditorFeatures(ctx: Ctx, context: vscode.ExtensionContext): EditorFeatures {
  const pool = sharedServePool(ctx);
  const optIns = new ChatOptIns(context.workspaceState);
  const provider = new FinetuneChatProvider(ctx, pool, optIns);
  context.subscriptions.push(disposeSharedServePool(), optIns, provider);
  // VS Code older than 1.104 has no finalized provider API: everything else still works there
  if (typeof vscode.lm?.registerLanguageModelChatProvider === 'function') {
    context.subscriptions.push(vscode.lm.registerLanguageModelChatProvider(CHAT_VENDOR, provider));
  }
  context.subscriptions.push(...goldenTests(ctx, optIns, pool), ...registerTools(ctx));
  const answers = new AnswersDocuments();
  context.subscriptions.push(answers, vscode.workspace.registerTextDocumentContentProvider(ANSWERS_SCHEME, answers));
  return { pool, optIns, provider, answers };
}
