// README.md model cards (Hugging Face card metadata in YAML front matter) for exported adapters and
// merged models: what the base was, the LoRA settings, the training hyper-parameters and final losses
// of the run, and how to load the result.
import * as fs from 'fs';
import * as path from 'path';
import type { Quantize, RunConfig } from '../core/runConfig';
import { resolveLoraTargets } from '../core/runConfig';
import { readRunConfigFile } from '../core/runConfigFile';

export interface AdapterSettings {
  r: number;
  lora_alpha: number;
  lora_dropout: number;
  target_modules: string[];
  base_model_name_or_path?: string;
}

export interface RunSummary {
  config?: RunConfig;
  /** last training loss and last eval loss seen in metrics.jsonl. */
  trainLoss?: number;
  evalLoss?: number;
  steps?: number;
}

/** Reads what a run folder says about itself; missing or malformed files just leave fields out. */
export function readRunSummary(runDir: string | undefined): RunSummary {
  if (!runDir) return {};
  const summary: RunSummary = {};
  try {
    // Defaults first: a run_config.json from an older version may lack newer keys.
    summary.config = readRunConfigFile(path.join(runDir, 'run_config.json'));
  } catch {
    // no config: the card simply has no training section
  }
  const metrics = path.join(runDir, 'metrics.jsonl');
  if (fs.existsSync(metrics)) {
    for (const line of fs.readFileSync(metrics, 'utf8').split('\n')) {
      if (!line.trim()) continue;
      try {
        const e = JSON.parse(line) as { type?: string; loss?: number; eval_loss?: number; step?: number };
        if (e.type === 'step' && typeof e.loss === 'number') {
          summary.trainLoss = e.loss;
          summary.steps = e.step;
        }
        if (e.type === 'eval' && typeof e.eval_loss === 'number') summary.evalLoss = e.eval_loss;
      } catch {
        // a torn last line of a killed run
      }
    }
  }
  return summary;
}

/** A Hub repo id ("org/name" or "name") can go in base_model; a local path cannot. */
function hubId(name: string | undefined): string | undefined {
  if (!name) return undefined;
  return /^[\w.-]+(\/[\w.-]+)?$/.test(name) && !name.startsWith('.') ? name : undefined;
}

function frontMatter(fields: Record<string, string | string[] | undefined>): string {
  const lines = ['---'];
  for (const [k, v] of Object.entries(fields)) {
    if (v === undefined) continue;
    if (Array.isArray(v)) lines.push(`${k}:`, ...v.map((x) => `- ${JSON.stringify(x)}`));
    else lines.push(`${k}: ${JSON.stringify(v)}`);
  }
  lines.push('---', '');
  return lines.join('\n');
}

function trainingTable(s: RunSummary): string {
  const c = s.config;
  if (!c) return '';
  const rows: [string, string][] = [
    ['method', c.method + (c.full ? ' (full fine-tuning)' : ' (LoRA)')],
    ['data', `\`${c.data}\` (format ${c.format})`],
    [c.max_steps > 0 ? 'max steps' : 'epochs', String(c.max_steps > 0 ? c.max_steps : c.epochs)],
    ['batch size x grad accum', `${c.batch_size} x ${c.grad_accum}`],
    ['learning rate', `${c.lr} (${c.schedule}, ${c.warmup_steps} warmup steps)`],
    ['weight decay', String(c.weight_decay)],
    ['AdamW betas / eps', `${c.adam_beta1}, ${c.adam_beta2} / ${c.adam_eps}`],
    ['max grad norm', String(c.max_grad_norm)],
    ['max length', `${c.max_length} tokens`],
    ['seed', String(c.seed)],
  ];
  if (!c.full) rows.splice(1, 0, ['LoRA', `r ${c.lora_r}, alpha ${c.lora_alpha}, dropout ${c.lora_dropout}, targets ${resolveLoraTargets(c.lora_targets).join(', ')}`]);
  if (s.steps !== undefined && s.trainLoss !== undefined) rows.push(['final training loss', `${s.trainLoss.toFixed(4)} (step ${s.steps})`]);
  if (s.evalLoss !== undefined) rows.push(['final eval loss', s.evalLoss.toFixed(4)]);
  return ['## Training', '', '| | |', '|---|---|', ...rows.map(([k, v]) => `| ${k} | ${v} |`), ''].join('\n');
}

export function adapterCard(name: string, adapter: AdapterSettings, run: RunSummary): string {
  const base = adapter.base_model_name_or_path ?? run.config?.model ?? 'BASE_MODEL';
  return frontMatter({
    base_model: hubId(base),
    library_name: 'peft',
    pipeline_tag: 'text-generation',
    tags: ['lora', 'peft', 'finetune-studio'],
  }) + `# ${name}

A LoRA adapter for \`${base}\`, trained with Finetune Studio (TensorFlow.js, no Python).

## Adapter

| r | alpha | dropout | target modules |
|---|---|---|---|
| ${adapter.r} | ${adapter.lora_alpha} | ${adapter.lora_dropout} | ${adapter.target_modules.join(', ')} |

${trainingTable(run)}
## Use

With PEFT:

\`\`\`python
from peft import AutoPeftModelForCausalLM
from transformers import AutoTokenizer

model = AutoPeftModelForCausalLM.from_pretrained("path/to/this/folder")
tokenizer = AutoTokenizer.from_pretrained("${base}")
\`\`\`

With Finetune Studio:

\`\`\`sh
ftune generate --model ${base} --adapter path/to/this/folder --prompt "..."
\`\`\`
`;
}

export function mergedCard(name: string, base: string, adapterDir: string | undefined, dtype: string, run: RunSummary, trainedOn: Quantize = 'none'): string {
  const quantized = adapterDir && trainedOn !== 'none'
    ? `\nThe adapter was trained on a ${trainedOn}-quantized base (QLoRA); it is merged into the original weights of the base folder, as PEFT does, not into the ${trainedOn} values.\n`
    : '';
  return frontMatter({
    base_model: hubId(base),
    library_name: 'transformers',
    pipeline_tag: 'text-generation',
    tags: ['finetune-studio', ...(adapterDir ? ['merged-lora'] : [])],
  }) + `# ${name}

\`${base}\`${adapterDir ? ` with the LoRA adapter \`${adapterDir}\` merged into its weights (W + B·A·alpha/r)` : ''}, stored as ${dtype}.
Trained with Finetune Studio.
${quantized}
${trainingTable(run)}
## Use

\`\`\`python
from transformers import AutoModelForCausalLM, AutoTokenizer

model = AutoModelForCausalLM.from_pretrained("path/to/this/folder")
tokenizer = AutoTokenizer.from_pretrained("path/to/this/folder")
\`\`\`
`;
}
