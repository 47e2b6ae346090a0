// Hyper-parameters of several runs side by side (from each run's run_config.json), with the rows that
// differ flagged so the "Compare runs" table can highlight what actually changed between runs.

export interface HparamRow {
  key: string;
  /** one formatted value per run, in the order the configs were given ('—' when absent). */
  values: string[];
  differs: boolean;
}

export const MISSING_VALUE = '—';

/** The keys people compare first; every other key follows alphabetically. */
const LEADING_KEYS = [
  'method', 'model', 'data', 'eval_data', 'eval_split', 'epochs', 'max_steps', 'lr', 'schedule', 'warmup_steps',
  'batch_size', 'grad_accum', 'weight_decay', 'max_grad_norm', 'full', 'lora_r', 'lora_alpha', 'lora_dropout',
  'lora_targets', 'max_length', 'limit', 'seed', 'backend',
];

/** A stable text form: objects with sorted keys so {a,b} and {b,a} compare equal. */
export function formatHparam(value: unknown): string {
  if (value === undefined || value === null) return MISSING_VALUE;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (Array.isArray(value)) return value.length === 0 ? '[]' : value.map(formatHparam).join(', ');
  if (typeof value === 'object') return JSON.stringify(sortKeys(value as Record<string, unknown>));
  return String(value);
}

function sortKeys(value: Record<string, unknown>): Record<string, unknown> {
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) {
    const inner = value[key];
    sorted[key] = typeof inner === 'object' && inner !== null && !Array.isArray(inner) ? sortKeys(inner as Record<string, unknown>) : inner;
  }
  return sorted;
}

export function hparamTable(configs: readonly (Readonly<object> | null)[], onlyDifferences = false): HparamRow[] {
  const keys = new Set<string>();
  for (const config of configs) for (const key of Object.keys(config ?? {})) keys.add(key);
  const ordered = [
    ...LEADING_KEYS.filter((k) => keys.has(k)),
    ...[...keys].filter((k) => !LEADING_KEYS.includes(k)).sort(),
  ];
  const rows = ordered.map((key) => {
    const values = configs.map((config) => formatHparam((config as Readonly<Record<string, unknown>> | null)?.[key]));
    return { key, values, differs: values.some((v) => v !== values[0]) };
  });
  return onlyDifferences ? rows.filter((r) => r.differs) : rows;
}
