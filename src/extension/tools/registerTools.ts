// Language-model tools (vscode.lm.registerTool + the languageModelTools contribution) so an agent can use
// Finetune Studio: list datasets with their validation, preview masks, estimate memory, start a run, read
// a run's status and metrics, evaluate a checkpoint on a golden set. Tools that start work (a run, an
// evaluation) ask the user first (prepareInvocation's confirmationMessages) and refuse in an untrusted
// workspace; the read-only ones answer at once.

import * as path from 'path';
import * as vscode from 'vscode';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../../core/runConfig';
import { isMethod, METHOD_IDS, type Method } from '../../core/methods';
import type { CliJsonOutputs, EvalOutput } from '../../core/protocol';
import { runCliJson } from '../cliClient';
import { isPreviewExamples } from '../panels/maskPreviewMessages';
import type { Ctx } from '../context';
import { evalFieldArgs, fieldsFor } from '../testing/goldenCases';
import { estimateMemory, findRun, optionalNumber, requiredString, runStatus } from './toolText';

const OUTPUT_LIMIT = 16_000;

const result = (value: unknown): vscode.LanguageModelToolResult =>
  new vscode.LanguageModelToolResult([new vscode.LanguageModelTextPart(typeof value === 'string' ? value : JSON.stringify(value, null, 2))]);

function requireTrust(): void {
  if (!vscode.workspace.isTrusted) throw new Error('this workspace is not trusted: Finetune Studio starts no training or evaluation in Restricted Mode (trust the folder first)');
}

/** Runs `ftune <command> ... --json` through the one CLI client; cancelling kills it. */
function runJson<C extends 'preview' | 'eval'>(ctx: Ctx, command: C, args: string[], guard: (value: unknown) => value is CliJsonOutputs[C], token: vscode.CancellationToken): Promise<CliJsonOutputs[C]> {
  return runCliJson((a, o) => ctx.spawnCli(a, o), command, args, guard, { cancel: token });
}

const isEvalOutput = (value: unknown): value is EvalOutput =>
  typeof value === 'object' && value !== null && !Array.isArray(value) && Object.values(value).every((v) => typeof v === 'number');

const resolvePath = (file: string): string => {
  if (path.isAbsolute(file)) return file;
  const folder = vscode.workspace.workspaceFolders?.[0];
  return folder ? path.join(folder.uri.fsPath, file) : file;
};

function tool<T>(name: string, invoke: (input: T, token: vscode.CancellationToken) => Promise<vscode.LanguageModelToolResult>, confirm?: (input: T) => vscode.PreparedToolInvocation): vscode.Disposable {
  return vscode.lm.registerTool<T>(name, {
    invoke: (options, token) => invoke(options.input, token),
    prepareInvocation: confirm ? (options) => confirm(options.input) : undefined,
  });
}

interface StartRunInput { data: string; model: string; method?: Method; max_steps?: number; name?: string }
interface EvaluateInput { file: string; model: string; adapter?: string; limit?: number }

export function registerTools(ctx: Ctx): vscode.Disposable[] {
  if (typeof vscode.lm?.registerTool !== 'function') return [];
  return [
    tool<Record<string, never>>('finetuneStudio_listDatasets', async () => {
      const files = await ctx.datasets.list();
      const datasets = [];
      for (const uri of files) {
        const scan = await ctx.datasets.scanOf(uri);
        datasets.push({ file: vscode.workspace.asRelativePath(uri), rows: scan.rows, format: scan.format, fields: scan.fields, problems: scan.issueCount, first_problems: scan.issues.slice(0, 5) });
      }
      return result({ datasets });
    }),
    tool<{ file: string; model: string; n?: number }>('finetuneStudio_previewMasks', async (input, token) => {
      const file = resolvePath(requiredString(input, 'file'));
      const n = optionalNumber(input, 'n') ?? 3;
      const examples = await runJson(ctx, 'preview', [file, '--model', requiredString(input, 'model'), '--n', String(Math.max(1, Math.floor(n))), '--json'], isPreviewExamples, token);
      const out = JSON.stringify(examples);
      return result(out.length > OUTPUT_LIMIT ? `${out.slice(0, OUTPUT_LIMIT)}\n… (truncated)` : out);
    }),
    tool<Record<string, unknown>>('finetuneStudio_estimateMemory', async (input) => result(estimateMemory(input, ctx.backend()))),
    tool<StartRunInput>(
      'finetuneStudio_startRun',
      async (input) => {
        requireTrust();
        const manager = ctx.manager;
        if (!manager) throw new Error('open a folder first: runs are stored in the workspace');
        const method = input.method ?? 'sft';
        if (!isMethod(method)) throw new Error(`input.method must be one of ${METHOD_IDS.join(', ')}`);
        const config: Omit<RunConfig, 'out'> = {
          ...DEFAULT_RUN_CONFIG, model: requiredString(input, 'model'), data: resolvePath(requiredString(input, 'data')), method, backend: ctx.backend(),
          max_steps: Math.floor(optionalNumber(input, 'max_steps') ?? 0),
        };
        const name = input.name ?? `${path.basename(config.model)}-${method}-${new Date().toISOString().slice(0, 16).replace(/[:T]/g, '-')}`;
        const id = manager.start(name, config);
        return result({ started: id, name, hint: 'read its progress with finetuneStudio_runStatus' });
      },
      (input) => ({
        invocationMessage: `Starting a ${input.method ?? 'sft'} run`,
        confirmationMessages: {
          title: 'Start a fine-tuning run?',
          message: new vscode.MarkdownString(`Train **${input.model}** (${(input.method ?? 'sft').toUpperCase()}) on \`${input.data}\`${input.max_steps ? ` for ${input.max_steps} steps` : ''}. This uses the CPU/GPU until it finishes or is stopped.`),
        },
      }),
    ),
    tool<{ run?: string }>('finetuneStudio_runStatus', async (input) => result(runStatus(findRun(ctx.listRuns(), input?.run)))),
    tool<EvaluateInput>(
      'finetuneStudio_evaluateCheckpoint',
      async (input, token) => {
        requireTrust();
        const file = resolvePath(requiredString(input, 'file'));
        const adapter = input.adapter ? ['--adapter', input.adapter] : [];
        const limit = optionalNumber(input, 'limit');
        const scores = await runJson(ctx, 'eval', [
          '--model', requiredString(input, 'model'), ...adapter, '--data', file, ...evalFieldArgs(await fieldsFor(file)),
          '--metric', 'exact-match', '--json', '--backend', ctx.backend(), ...(limit ? ['--limit', String(Math.floor(limit))] : []),
        ], isEvalOutput, token);
        return result(scores);
      },
      (input) => ({
        invocationMessage: `Evaluating on ${input.file}`,
        confirmationMessages: {
          title: 'Evaluate a checkpoint?',
          message: new vscode.MarkdownString(`Generate an answer for every example of \`${input.file}\` with **${input.adapter ?? input.model}** and score exact match (like \`ftune eval --metric exact-match\`).`),
        },
      }),
    ),
  ];
}
