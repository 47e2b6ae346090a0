// `ftune export`: a trained adapter (or model) as PEFT files, a merged transformers folder, a GGUF
// file with an Ollama Modelfile, or a TRL/accelerate/Axolotl folder that re-runs the training.
import { EXPORT_TARGETS, runExport, type ExportOptions, type ExportTarget } from '../export';
import { GGUF_TYPES } from '../core/protocol';
import { backendOption, optionalOneOf, parse, str, UsageError } from './args';
import { printJson } from './jsonOutput';

export const EXPORT_USAGE = `usage: ftune export --to peft|merged|gguf|trl --out DIR [--model DIR] [--adapter DIR] [--run DIR]
    [--dtype bf16|f16|f32] [--type ${GGUF_TYPES.join('|')}] [--max-shard-size 2GB] [--backend B] [--json]
  peft    the adapter in PEFT format with a model card
  merged  the adapter fused into the base weights (safetensors, sharded above --max-shard-size)
  gguf    one GGUF file for llama.cpp / Ollama (--type, default f16) and an Ollama Modelfile
  trl     train.py (TRL + PEFT), accelerate DeepSpeed/FSDP configs and an Axolotl config (needs --run)
  --run DIR fills in --model and --adapter from the run folder and exports its chat template.`;

const DTYPES = ['bf16', 'f16', 'f32'] as const;

/** "2GB", "500MB", "1.5G", "123456" (bytes) → bytes (powers of 1024, as transformers' max_shard_size). */
export function parseSize(text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]i?b?|b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--max-shard-size must look like 2GB, 500MB or a byte count, got ${JSON.stringify(text)}`);
  const unit = (m[2] ?? 'b').toLowerCase()[0];
  const scale: Record<string, number> = { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
  const bytes = Math.floor(Number(m[1]) * scale[unit]);
  if (bytes <= 0) throw new UsageError('--max-shard-size must be positive');
  return bytes;
}

export async function exportCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    to: { type: 'string' }, out: { type: 'string' }, model: { type: 'string' }, adapter: { type: 'string' }, run: { type: 'string' },
    dtype: { type: 'string' }, type: { type: 'string' }, 'max-shard-size': { type: 'string' }, backend: { type: 'string' },
    json: { type: 'boolean' },
  }, EXPORT_USAGE);
  const to = optionalOneOf(values, 'to', EXPORT_TARGETS);
  if (!to) throw new UsageError(`--to is required\n${EXPORT_USAGE}`);
  const out = str(values, 'out');
  if (!out) throw new UsageError('--out is required');
  const shard = str(values, 'max-shard-size');
  const options: ExportOptions = {
    to: to as ExportTarget,
    out,
    model: str(values, 'model'),
    adapter: str(values, 'adapter'),
    run: str(values, 'run'),
    dtype: optionalOneOf(values, 'dtype', DTYPES),
    type: optionalOneOf(values, 'type', GGUF_TYPES),
    maxShardBytes: shard === undefined ? undefined : parseSize(shard),
    backend: backendOption(values),
  };
  if (!options.model && !options.run && to !== 'peft') throw new UsageError('--model (or --run) is required');
  if (to === 'peft' && !options.adapter && !options.run) throw new UsageError('--to peft needs --adapter (or --run)');
  const result = await runExport(options);
  if (values.json === true) {
    printJson('export', result);
  } else {
    process.stdout.write(`exported ${to} to ${out}\n`);
    for (const f of result.files) process.stdout.write(`  ${f}\n`);
    for (const [k, v] of Object.entries(result.details)) process.stdout.write(`${k}: ${v}\n`);
    for (const note of result.notes) process.stdout.write(`note: ${note}\n`);
  }
  for (const w of result.warnings) process.stderr.write(`ftune: warning: ${w}\n`);
  return 0;
}
