// Hugging Face: the access token (VS Code's secret storage) and model downloads with a cancellable
// progress notification. The Hub client itself is core/hub/.

import * as vscode from 'vscode';
import { HubError } from '../../core/hub/errors';
import { downloadModel } from '../../core/hub/models';
import type { Ctx } from '../context';

export const HF_TOKEN_SECRET = 'finetuneStudio.huggingFaceToken';

export async function setHubToken(ctx: Ctx): Promise<void> {
  const token = await vscode.window.showInputBox({ title: 'Hugging Face access token', prompt: 'Read token from huggingface.co/settings/tokens (stored in VS Code’s secret storage)', password: true, ignoreFocusOut: true });
  if (token === undefined) return;
  if (token.trim()) await ctx.extensionContext.secrets.store(HF_TOKEN_SECRET, token.trim());
  else await ctx.extensionContext.secrets.delete(HF_TOKEN_SECRET);
}

/** Downloads with a cancellable progress notification; failures are explained by kind. */
export async function downloadFromHub(ctx: Ctx, repo: string): Promise<string | undefined> {
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
