// The editor features' commands: Run Selection on Models (answers documents) and "Use in Chat" on a
// checkpoint (the chat model provider). Their state is set up by editorFeatures.ts.

import * as vscode from 'vscode';
import { CHAT_VENDOR } from '../chat/provider';
import type { Ctx } from '../context';
import type { EditorFeatures } from '../editorFeatures';
import { runSelectionOnModels as runSelection } from '../selection/runSelection';
import type { CheckpointEntry } from '../views/checkpointsView';

export function runSelectionOnModels(ctx: Ctx, editor: EditorFeatures): Promise<void> {
  return runSelection(ctx, editor.pool, editor.answers);
}

export async function useInChat(editor: EditorFeatures, arg?: unknown): Promise<void> {
  const entry = arg as CheckpointEntry | undefined;
  const checkpoint = entry?.kind === 'checkpoint' ? entry.path : undefined;
  if (!checkpoint) throw new Error('pick a checkpoint in the Checkpoints view');
  const nowIn = await editor.optIns.toggle(checkpoint);
  const shown = editor.provider.entries().find((e) => e.ref.adapter === checkpoint);
  void vscode.window.showInformationMessage(
    nowIn ? `${shown?.name ?? checkpoint} is now a chat model (vendor ${CHAT_VENDOR}).` : `${checkpoint} was removed from the chat models.`,
  );
}
