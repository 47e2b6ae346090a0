// Issue 17's editor features, registered in one place (main.ts calls registerEditorFeatures): the chat
// model provider, "Use in Chat", Run Selection on Models, golden sets in the Testing view, the LM tools.
// They share one pool of `ftune serve` processes (chat/sharedServe.ts).

import * as vscode from 'vscode';
import { ChatOptIns } from './chat/chatOptIns';
import { chatModelEntries, entriesKey, type ChatModelEntry } from './chat/chatModels';
import { CHAT_VENDOR, chatMaxNewTokens, contextLengthOf, FinetuneChatProvider } from './chat/provider';
import { disposeSharedServePool, sharedServePool } from './chat/sharedServe';
import type { Ctx } from './context';
import { GoldenTestController } from './testing/goldenTestController';
import { registerTools } from './tools/registerTools';
import { ANSWERS_SCHEME, AnswersDocuments, runSelectionOnModels } from './selection/runSelection';
import type { CheckpointEntry } from './views/checkpointsView';

/** A command whose failure shows as an error message with "Show log", like main.ts's table. */
function command(ctx: Ctx, id: string, handler: (...args: unknown[]) => unknown): vscode.Disposable {
  return vscode.commands.registerCommand(id, async (...args: unknown[]) => {
    try {
      return await handler(...args);
    } catch (error) {
      ctx.output.appendLine(`${id}: ${(error as Error).stack ?? String(error)}`);
      void vscode.window.showErrorMessage(`Finetune Studio: ${(error as Error).message}`, 'Show log').then((c) => c && ctx.output.show(true));
      return undefined;
    }
  });
}

function checkpointPathOf(arg: unknown): string | undefined {
  const entry = arg as CheckpointEntry | undefined;
  return entry?.kind === 'checkpoint' ? entry.path : undefined;
}

/**
 * Models that golden sets can run on: every base of the runs, every run's final adapter, and the
 * checkpoints opted in for chat.
 */
function goldenModels(ctx: Ctx, optIns: ChatOptIns): ChatModelEntry[] {
  const runs = ctx.listRuns();
  const inUse = new Set([...optIns.paths(), ...runs.flatMap((r) => (r.adapter ? [r.adapter] : []))]);
  return chatModelEntries(runs, inUse, contextLengthOf, chatMaxNewTokens());
}

function goldenTests(ctx: Ctx, optIns: ChatOptIns, pool: ReturnType<typeof sharedServePool>): vscode.Disposable[] {
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

export function registerEditorFeatures(ctx: Ctx, context: vscode.ExtensionContext): void {
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
  context.subscriptions.push(
    answers,
    vscode.workspace.registerTextDocumentContentProvider(ANSWERS_SCHEME, answers),
    command(ctx, 'finetuneStudio.runSelectionOnModels', () => runSelectionOnModels(ctx, pool, answers)),
  );
  context.subscriptions.push(
    command(ctx, 'finetuneStudio.useInChat', async (arg) => {
      const checkpoint = checkpointPathOf(arg);
      if (!checkpoint) throw new Error('pick a checkpoint in the Checkpoints view');
      const nowIn = await optIns.toggle(checkpoint);
      const entry = provider.entries().find((e) => e.ref.adapter === checkpoint);
      void vscode.window.showInformationMessage(
        nowIn ? `${entry?.name ?? checkpoint} is now a chat model (vendor ${CHAT_VENDOR}).` : `${checkpoint} was removed from the chat models.`,
      );
    }),
  );
}
