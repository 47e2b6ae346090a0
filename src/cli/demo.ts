// `npm run demo`: the learning demo on the embedded tiny base model. It writes an arithmetic chat
// dataset, measures greedy exact match on held-out questions, fine-tunes with LoRA, measures again.
import * as fs from 'fs';
import * as path from 'path';
import { answersMatch } from '../core/answer';
import { demoHeldOutSet, demoTrainSet, type DemoExample } from '../core/demoData';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../core/runConfig';
import { chatPrompt } from '../core/prompts';
import { generate } from '../engine/generate';
import { runTraining } from '../engine/trainer';
import { number, parse, str } from './args';
import { loadModel } from './modelArgs';
import { printJson } from './jsonOutput';

export const DEMO_MODEL = path.resolve(__dirname, '..', '..', '..', 'examples', 'models', 'tiny-gsm8k-base');

export async function exactMatch(modelDir: string, adapterDir: string | undefined, examples: DemoExample[]): Promise<number> {
  const loaded = await loadModel(modelDir, adapterDir, 'auto');
  try {
    let correct = 0;
    for (const ex of examples) {
      const prompt = chatPrompt(loaded.tokenizer, ex.messages.slice(0, -1));
      const out = await generate(loaded.model, {
        promptIds: loaded.tokenizer.encode(prompt), adapter: loaded.adapter, eosIds: loaded.model.config.eos_token_id,
        options: { max_new_tokens: 24, greedy: true, stop: true },
      });
      if (answersMatch(loaded.tokenizer.decode(out.tokenIds, { skipSpecialTokens: true }), ex.messages[ex.messages.length - 1].content)) correct++;
    }
    return correct / examples.length;
  } finally {
    loaded.dispose();
  }
}

export async function runDemo(options: { out: string; steps: number; model: string; quiet?: boolean }): Promise<{ before: number; after: number }> {
  fs.mkdirSync(options.out, { recursive: true });
  const trainFile = path.join(options.out, 'arithmetic-train.jsonl');
  const heldOut = demoHeldOutSet();
  fs.writeFileSync(trainFile, demoTrainSet().map((e) => JSON.stringify(e)).join('\n') + '\n');
  fs.writeFileSync(path.join(options.out, 'arithmetic-heldout.jsonl'), heldOut.map((e) => JSON.stringify(e)).join('\n') + '\n');
  const log = (s: string) => options.quiet || process.stderr.write(s + '\n');

  const before = await exactMatch(options.model, undefined, heldOut);
  log(`base model: greedy exact match on ${heldOut.length} held-out questions = ${(before * 100).toFixed(1)}%`);
  // The recipe of the model card: LoRA r16/α32 on all linear layers, lr 2e-3 constant, batch 16.
  const config: RunConfig = {
    ...DEFAULT_RUN_CONFIG, model: options.model, data: trainFile, out: path.join(options.out, 'run'),
    lora_r: 16, lora_alpha: 32, lora_dropout: 0, lr: 2e-3, schedule: 'constant', batch_size: 16, max_steps: options.steps, seed: 0,
  };
  const outcome = await runTraining({
    config, resume: false,
    emit: (e) => {
      if (e.type === 'step' && (e.step % 25 === 0 || e.step === e.total_steps)) log(`step ${e.step}/${e.total_steps}  loss ${e.loss.toFixed(4)}  ${Math.round(e.tokens_per_second)} tok/s`);
      if (e.type === 'started') log(`training on ${e.backend}: ${e.examples} examples, ${e.total_steps} steps`);
    },
  });
  if (outcome !== 'done') throw new Error(`demo training ended as ${outcome}`);
  const after = await exactMatch(options.model, path.join(config.out, 'adapter'), heldOut);
  log(`fine-tuned:  greedy exact match on ${heldOut.length} held-out questions = ${(after * 100).toFixed(1)}%`);
  return { before, after };
}

if (require.main === module) {
  (async () => {
    const { values } = parse(process.argv.slice(2), { out: { type: 'string' }, steps: { type: 'string' }, model: { type: 'string' } },
      'usage: npm run demo [-- --steps 300 --out .finetune/demo]');
    const r = await runDemo({ out: str(values, 'out') ?? '.finetune/demo', steps: number(values, 'steps', 300, 'positive-int'), model: str(values, 'model') ?? DEMO_MODEL });
    printJson('demo', { exact_match_before: r.before, exact_match_after: r.after });
    process.exit(0);
  })().catch((err: Error) => {
    process.stderr.write(`ftune demo: error: ${err.message}\n`);
    process.exit(1);
  });
}
