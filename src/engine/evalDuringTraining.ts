// Generation metrics at every evaluation of a training run (--eval-metric): the prompts come from
// --golden, else from the eval set (--eval-data, or the --eval-split rows of the training file), at
// most --eval-generate-limit of them, the same ones at every evaluation so the curve compares like
// with like.
import type { GenerationMetricKey } from '../core/bestMetric';
import type { PromptPair } from '../core/prompts';
import { evalDuringTrainingOptions, type RunConfig } from '../core/runConfig';
import type { Tokenizer } from '../core/tokenizer';
import { readPromptPairs, scoreGenerations } from './generationMetrics';
import type { LoraAdapter } from './lora';
import type { DecoderModel } from './model';

/** What an `eval` event carries from generation. */
export interface GenerationEvalFields {
  exact_match?: number;
  bleu?: number;
  rouge_l?: number;
  f1?: number;
  generation_examples: number;
  generation_seconds: number;
}

const GENERATION_BATCH = 16;

export class TrainingEvaluator {
  private constructor(
    private readonly config: RunConfig,
    private readonly tokenizer: Tokenizer,
    private readonly pairs: PromptPair[],
    /** where the prompts come from, for the log. */
    readonly source: string,
  ) {}

  /**
   * undefined when the run asks for no generation metric. `evalItems` are the method's eval items:
   * with --eval-split their `line`s pick the held-out rows of the training file.
   */
  static async create(config: RunConfig, tokenizer: Tokenizer, evalItems: readonly unknown[]): Promise<TrainingEvaluator | undefined> {
    const options = evalDuringTrainingOptions(config);
    if (options.eval_metrics.length === 0) return undefined;
    const scan = { format: config.format, fields: config.fields };
    let file: string;
    let keep: (line: number) => boolean = () => true;
    if (options.golden) file = options.golden;
    else if (config.eval_data) file = config.eval_data;
    else if (config.eval_split > 0) {
      file = config.data;
      const lines = new Set(evalItems.map((item) => (item as { line?: unknown }).line).filter((l): l is number => typeof l === 'number'));
      keep = (line) => lines.has(line);
    } else {
      throw new Error('--eval-metric needs examples to generate from: give --golden FILE, --eval-data FILE or --eval-split F');
    }
    const { pairs, records } = await readPromptPairs(file, scan, tokenizer);
    const chosen = pairs.filter((p) => keep(p.line)).slice(0, options.eval_generate_limit);
    if (chosen.length === 0) {
      throw new Error(`${file}: none of its ${records} rows has a prompt and a reference answer to score --eval-metric on (chats need an assistant turn)`);
    }
    const what = options.golden ? 'golden set' : config.eval_data ? 'eval set' : 'held-out rows';
    return new TrainingEvaluator(config, tokenizer, chosen, `${what} ${file}`);
  }

  get examples(): number {
    return this.pairs.length;
  }

  async evaluate(model: DecoderModel, adapter: LoraAdapter | undefined): Promise<GenerationEvalFields> {
    const options = evalDuringTrainingOptions(this.config);
    const scores = await scoreGenerations(model, this.tokenizer, this.pairs, {
      metrics: options.eval_metrics, maxNewTokens: options.eval_max_new_tokens, batchSize: GENERATION_BATCH, adapter,
    });
    const fields: GenerationEvalFields = { generation_examples: scores.examples, generation_seconds: scores.seconds };
    for (const [key, value] of Object.entries(scores.metrics) as [GenerationMetricKey, number][]) fields[key] = value;
    return fields;
  }
}

/**
 * The config the method's data is planned with: a run with --golden but no eval set of its own
 * measures its eval loss on the golden set too (every evaluation then has a loss and its metrics).
 */
export function evalSetConfig(config: RunConfig): RunConfig {
  const { golden } = evalDuringTrainingOptions(config);
  return golden && !config.eval_data && !(config.eval_split > 0) ? { ...config, eval_data: golden } : config;
}
