// `npm run demo:methods`: small learning demos of CPT, DPO and GRPO on the embedded tiny base model,
// each printing a before/after number on held-out data (see the README's "Methods" section).
import * as fs from 'fs';
import * as path from 'path';
import { demoHeldOutSet, demoTrainSet, type DemoExample } from '../core/demoData';
import { DEFAULT_RUN_CONFIG, type RunConfig } from '../core/runConfig';
import type { TrainerEvent } from '../core/protocol';
import { runTraining } from '../engine/trainer';
import { DEMO_MODEL, exactMatch } from './demo';
import { number, parse, str } from './args';

function write(file: string, rows: unknown[]): string {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, rows.map((r) => JSON.stringify(r)).join('\n') + '\n');
  return file;
}

async function train(config: Partial<RunConfig> & Pick<RunConfig, 'data' | 'out' | 'model'>): Promise<TrainerEvent[]> {
  const events: TrainerEvent[] = [];
  const outcome = await runTraining({ config: { ...DEFAULT_RUN_CONFIG, seed: 0, ...config }, resume: false, emit: (e) => events.push(e) });
  if (outcome !== 'done') throw new Error(`${config.method} demo ended as ${outcome}: ${JSON.stringify(events.find((e) => e.type === 'failed'))}`);
  return events;
}

const evals = (events: TrainerEvent[]) => events.filter((e): e is Extract<TrainerEvent, { type: 'eval' }> => e.type === 'eval');

function wrong(ex: DemoExample, i: number): string {
  const answer = ex.messages[1].content;
  const n = Number(/#### (\d+)/.exec(answer)![1]);
  const bad = n + 1 + (i % 3);
  return answer.replace(/= \d+\n#### \d+/, `= ${bad}\n#### ${bad}`);
}

function preferences(examples: DemoExample[]) {
  return examples.map((ex, i) => ({ prompt: [ex.messages[0]], chosen: [ex.messages[1]], rejected: [{ role: 'assistant', content: wrong(ex, i) }] }));
}

export async function runMethodDemos(out: string, model: string, steps: number): Promise<Record<string, { before: number; after: number; metric: string }>> {
  const results: Record<string, { before: number; after: number; metric: string }> = {};
  const log = (s: string) => process.stderr.write(s + '\n');
  const train400 = demoTrainSet();
  const held = demoHeldOutSet(40);

  // CPT: perplexity of held-out arithmetic text before (eval at step 0 = first eval) and after.
  const asText = (xs: DemoExample[]) => xs.map((x) => ({ text: `${x.messages[0].content}\n${x.messages[1].content}` }));
  const cptTrain = write(path.join(out, 'cpt-train.jsonl'), asText(train400));
  const cptEval = write(path.join(out, 'cpt-eval.jsonl'), asText(held));
  const cpt = await train({ method: 'cpt', model, data: cptTrain, eval_data: cptEval, out: path.join(out, 'cpt'), max_length: 128, batch_size: 8, max_steps: steps, lr: 2e-3, schedule: 'constant', lora_dropout: 0, eval_every: steps });
  const cptBase = await train({ method: 'cpt', model, data: cptTrain, eval_data: cptEval, out: path.join(out, 'cpt-base'), max_length: 128, batch_size: 8, max_steps: 1, lr: 0 });
  results.cpt = { metric: 'held-out perplexity', before: evals(cptBase).at(-1)!.perplexity, after: evals(cpt).at(-1)!.perplexity };
  log(`CPT: held-out perplexity ${results.cpt.before.toFixed(2)} → ${results.cpt.after.toFixed(2)}`);

  // DPO: reward accuracy on held-out pairs (chosen = right answer, rejected = a wrong one).
  const dpoTrain = write(path.join(out, 'dpo-train.jsonl'), preferences(train400));
  const dpoEval = write(path.join(out, 'dpo-eval.jsonl'), preferences(held));
  const dpo = await train({ method: 'dpo', model, data: dpoTrain, eval_data: dpoEval, out: path.join(out, 'dpo'), batch_size: 8, max_steps: steps, lr: 2e-3, schedule: 'constant', lora_dropout: 0, lora_r: 16, lora_alpha: 32, eval_every: 1 });
  const dpoEvals = evals(dpo);
  results.dpo = { metric: 'held-out reward accuracy', before: dpoEvals[0].extra!['rewards/accuracies'], after: dpoEvals.at(-1)!.extra!['rewards/accuracies'] };
  log(`DPO: held-out reward accuracy ${results.dpo.before.toFixed(3)} (after 1 step) → ${results.dpo.after.toFixed(3)}`);

  // GRPO with the exact-match reward, starting from a short SFT (the usual SFT → RL pipeline).
  const sftData = write(path.join(out, 'sft-train.jsonl'), train400);
  write(path.join(out, 'heldout.jsonl'), held); // kept next to the runs for inspection
  await train({ model, data: sftData, out: path.join(out, 'sft'), lora_r: 16, lora_alpha: 32, lora_dropout: 0, lr: 2e-3, schedule: 'constant', batch_size: 16, max_steps: 60 });
  const sftAdapter = path.join(out, 'sft', 'adapter');
  const before = await exactMatch(model, sftAdapter, held);
  await train({
    method: 'grpo', model, data: sftData, out: path.join(out, 'grpo'), init_adapter: sftAdapter, batch_size: 4, num_generations: 6,
    max_completion_length: 20, temperature: 1, max_steps: steps, lr: 5e-4, schedule: 'constant', lora_dropout: 0, beta: 0.04,
  });
  const after = await exactMatch(model, path.join(out, 'grpo', 'adapter'), held);
  results.grpo = { metric: 'held-out greedy exact match (mean exact-match reward)', before, after };
  log(`GRPO: held-out exact match ${before.toFixed(3)} → ${after.toFixed(3)}`);
  return results;
}

if (require.main === module) {
  (async () => {
    const { values } = parse(process.argv.slice(2), { out: { type: 'string' }, steps: { type: 'string' }, model: { type: 'string' } }, 'usage: npm run demo:methods [-- --steps 40]');
    const r = await runMethodDemos(str(values, 'out') ?? '.finetune/demo-methods', str(values, 'model') ?? DEMO_MODEL, number(values, 'steps', 40, 'positive-int'));
    process.stdout.write(JSON.stringify(r) + '\n');
    process.exit(0);
  })().catch((err: Error) => {
    process.stderr.write(`demo:methods: error: ${err.message}\n`);
    process.exit(1);
  });
}
