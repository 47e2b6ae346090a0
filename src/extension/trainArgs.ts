// RunConfig → `ftune train` arguments (the CLI contract). Every knob is passed explicitly so a run
// does not depend on the CLI's defaults, and Resume replays exactly the same command plus --resume.

import type { RunConfig } from '../core/runConfig';

export function trainArgs(config: RunConfig, options: { resume?: boolean } = {}): string[] {
  const args = ['train', '--model', config.model, '--data', config.data, '--out', config.out, '--method', config.method];
  if (config.eval_data) args.push('--eval-data', config.eval_data);
  else if (config.eval_split > 0) args.push('--eval-split', String(config.eval_split));
  args.push('--format', config.format);
  for (const [key, column] of Object.entries(config.fields)) args.push('--field', `${key}=${column}`);
  if (config.full) {
    args.push('--full');
  } else {
    args.push('--lora-r', String(config.lora_r), '--lora-alpha', String(config.lora_alpha), '--lora-dropout', String(config.lora_dropout));
    args.push('--lora-targets', config.lora_targets === 'all-linear' ? 'all-linear' : config.lora_targets.join(','));
  }
  if (config.init_adapter) args.push('--init-adapter', config.init_adapter);
  if (config.max_steps > 0) args.push('--max-steps', String(config.max_steps));
  else args.push('--epochs', String(config.epochs));
  args.push(
    '--batch-size', String(config.batch_size),
    '--grad-accum', String(config.grad_accum),
    '--lr', String(config.lr),
    '--weight-decay', String(config.weight_decay),
    '--adam-beta1', String(config.adam_beta1),
    '--adam-beta2', String(config.adam_beta2),
    '--adam-eps', String(config.adam_eps),
    '--max-grad-norm', String(config.max_grad_norm),
    '--schedule', config.schedule,
    '--warmup-steps', String(config.warmup_steps),
    '--max-length', String(config.max_length),
  );
  if (config.limit > 0) args.push('--limit', String(config.limit));
  if (!config.shuffle) args.push('--no-shuffle');
  args.push('--seed', String(config.seed), '--eval-every', String(config.eval_every), '--save-every', String(config.save_every));
  args.push('--backend', config.backend);
  if (config.gradient_checkpointing) args.push('--gradient-checkpointing');
  // method-specific knobs only where they mean something
  if (config.method === 'dpo' || config.method === 'grpo') args.push('--beta', String(config.beta));
  if (config.neftune_alpha > 0) args.push('--neftune-alpha', String(config.neftune_alpha));
  for (const mix of config.mix) args.push('--mix', mix);
  // Evaluate while training: only what the run set (older run configs have none of these).
  for (const metric of config.eval_metrics ?? []) args.push('--eval-metric', metric);
  if (config.golden) args.push('--golden', config.golden);
  if (config.eval_generate_limit !== undefined) args.push('--eval-generate-limit', String(config.eval_generate_limit));
  if (config.eval_max_new_tokens !== undefined) args.push('--eval-max-new-tokens', String(config.eval_max_new_tokens));
  if (config.best_metric) args.push('--best-metric', config.best_metric);
  if (config.early_stopping_patience !== undefined) args.push('--early-stopping-patience', String(config.early_stopping_patience));
  if (config.early_stopping_threshold !== undefined) args.push('--early-stopping-threshold', String(config.early_stopping_threshold));
  for (const target of config.report_to ?? []) args.push('--report-to', target);
  if (options.resume) args.push('--resume');
  return args;
}
