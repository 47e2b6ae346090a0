// The extension's settings (package.json "contributes.configuration"), read in one place.

import * as path from 'path';
import * as vscode from 'vscode';
import type { BackendName } from '../core/runConfig';

export const SECTION = 'finetuneStudio';

export interface Settings {
  /** relative paths resolve against the first workspace folder. */
  runsDirectory: string;
  backend: BackendName;
  maxConcurrentRuns: number;
  nodePath: string;
  modelCacheDirectory: string;
  huggingFaceEndpoint: string;
  stopTimeoutSeconds: number;
}

export function readSettings(): Settings {
  const c = vscode.workspace.getConfiguration(SECTION);
  return {
    runsDirectory: c.get<string>('runsDirectory', '.finetune/runs') || '.finetune/runs',
    backend: c.get<BackendName>('backend', 'auto'),
    maxConcurrentRuns: Math.max(1, c.get<number>('maxConcurrentRuns', 1)),
    nodePath: c.get<string>('nodePath', ''),
    modelCacheDirectory: c.get<string>('modelCacheDirectory', ''),
    huggingFaceEndpoint: c.get<string>('huggingFaceEndpoint', 'https://huggingface.co') || 'https://huggingface.co',
    stopTimeoutSeconds: Math.max(1, c.get<number>('stopTimeoutSeconds', 30)),
  };
}

/** Resolves a possibly relative setting path; `${workspaceFolder}` is expanded too. */
export function resolveWorkspacePath(setting: string, folder: vscode.WorkspaceFolder): string {
  const expanded = setting.replace(/\$\{workspaceFolder\}/g, folder.uri.fsPath);
  return path.isAbsolute(expanded) ? expanded : path.join(folder.uri.fsPath, expanded);
}
