// The chat template a run trained with, and rendering it the way training did (transformers.js's
// apply_chat_template with the tokenizer's special tokens), for exports that must reproduce it.
import * as fs from 'fs';
import * as path from 'path';
import type { ChatMessage } from '../core/protocol';
import { SandboxedTokenizer, TokenizerBudgetError } from '../core/tokenizerSandbox';

export type RenderChat = (messages: readonly ChatMessage[], addGenerationPrompt: boolean) => string;

/**
 * The template to export: the run's chat_template.jinja (what training rendered with) when a run is
 * given, else the model folder's (chat_template.jinja, then tokenizer_config.json's chat_template).
 */
export function resolveChatTemplate(modelDir: string, runDir?: string): string | undefined {
  if (runDir) {
    const runTemplate = path.join(runDir, 'chat_template.jinja');
    if (fs.existsSync(runTemplate)) return fs.readFileSync(runTemplate, 'utf8');
  }
  const jinja = path.join(modelDir, 'chat_template.jinja');
  if (fs.existsSync(jinja)) return fs.readFileSync(jinja, 'utf8');
  const configFile = path.join(modelDir, 'tokenizer_config.json');
  if (!fs.existsSync(configFile)) return undefined;
  const raw = (JSON.parse(fs.readFileSync(configFile, 'utf8')) as { chat_template?: unknown }).chat_template;
  if (typeof raw === 'string') return raw;
  // Some tokenizers carry named templates: [{ name: 'default', template }, ...]
  if (Array.isArray(raw)) {
    const named = raw.find((t: { name?: string }) => t.name === 'default') as { template?: string } | undefined;
    return named?.template;
  }
  return undefined;
}

/**
 * A renderer for `template` with the tokenizer of `modelDir` supplying bos_token / eos_token etc.;
 * `variables` override or add template variables (e.g. a bos_token the test fixture lacks).
 */
export async function loadChatRenderer(modelDir: string, template: string, variables: Record<string, string> = {}): Promise<RenderChat> {
  // In the tokenizer's worker thread, under its time budget (src/core/tokenizerSandbox.ts): a model
  // folder's template is untrusted and must not hang an export.
  const { tokenizer } = SandboxedTokenizer.load(path.resolve(modelDir));
  // Once over budget, every later conversation would wait the budget out too: fail at once.
  let overBudget: TokenizerBudgetError | undefined;
  return (messages, addGenerationPrompt) => {
    if (overBudget) throw overBudget;
    try {
      return tokenizer.render(messages, addGenerationPrompt, { chatTemplate: template, variables });
    } catch (err) {
      if (err instanceof TokenizerBudgetError) overBudget = err;
      throw err;
    }
  };
}
