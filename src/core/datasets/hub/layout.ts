// Which files of a dataset repo make up which config and split, inferred from paths the way
// the `datasets` library does when the README declares no `configs:`:
//   - a split is named by a keyword in the file name or a folder name (train/training,
//     validation/valid/val/dev, test/testing/eval/evaluation); files with none are 'train';
//   - a top-level folder other than `data/` (and not itself a split name) is a config
//     (gsm8k: main/train-*.parquet, socratic/test-*.parquet); everything else is 'default'.
// On the Hub's auto-converted branch (refs/convert/parquet) paths are `<config>/<split>/*.parquet`
// (`partial-<split>` when the conversion was truncated) and are read literally.
// Not handled: custom `configs:` / `data_files` declared in the README's YAML.

export const DATA_FILE_EXTENSIONS = ['.parquet', '.jsonl', '.ndjson', '.json', '.csv'] as const;
export type DataFileFormat = 'parquet' | 'jsonl' | 'json' | 'csv';

export const PARQUET_CONVERSION_REVISION = 'refs/convert/parquet';

const SPLIT_KEYWORDS: Record<string, string> = {
  train: 'train',
  training: 'train',
  validation: 'validation',
  valid: 'validation',
  val: 'validation',
  dev: 'validation',
  test: 'test',
  testing: 'test',
  eval: 'test',
  evaluation: 'test',
};

// Metadata files that `datasets` writes next to the data; they are JSON but not records.
const METADATA_FILES = new Set(['dataset_infos.json', 'dataset_info.json', 'dataset_dict.json', 'state.json']);

/** Code-point order, so listings sort the same in every locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

export interface HubDataFile {
  path: string;
  size: number;
}

export interface HubSplit {
  name: string;
  files: HubDataFile[];
  bytes: number;
}

export interface HubConfig {
  name: string;
  splits: HubSplit[];
}

export function dataFileFormat(path: string): DataFileFormat | undefined {
  const lower = path.toLowerCase();
  if (lower.endsWith('.parquet')) return 'parquet';
  if (lower.endsWith('.jsonl') || lower.endsWith('.ndjson')) return 'jsonl';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.csv')) return 'csv';
  return undefined;
}

function splitKeyword(segment: string): string | undefined {
  for (const token of segment.toLowerCase().split(/[^a-z0-9]+/)) {
    const split = SPLIT_KEYWORDS[token];
    if (split !== undefined) return split;
  }
  return undefined;
}

/** The config and split a repo file belongs to, or undefined when it is not a data file. */
export function inferConfigAndSplit(path: string, parquetConversion = false): { config: string; split: string } | undefined {
  if (dataFileFormat(path) === undefined) return undefined;
  const segments = path.split('/');
  if (segments.some((s) => s.startsWith('.')) || METADATA_FILES.has(segments[segments.length - 1])) return undefined;
  if (parquetConversion) {
    if (segments.length < 3) return undefined;
    return { config: segments[0], split: segments[1].replace(/^partial-/, '') };
  }
  const fileStem = segments[segments.length - 1].replace(/\.[^.]+$/, '');
  const dirs = segments.slice(0, -1);
  let split = splitKeyword(fileStem);
  for (let i = dirs.length - 1; split === undefined && i >= 0; i--) split = splitKeyword(dirs[i]);
  const top = dirs[0];
  const config = top !== undefined && top !== 'data' && splitKeyword(top) === undefined ? top : 'default';
  return { config, split: split ?? 'train' };
}

const SPLIT_ORDER = ['train', 'validation', 'test'];

/** Groups repo files into configs and splits (sorted; train, validation, test first). */
export function groupDataFiles(files: readonly HubDataFile[], parquetConversion = false): HubConfig[] {
  const configs = new Map<string, Map<string, HubDataFile[]>>();
  for (const file of files) {
    const where = inferConfigAndSplit(file.path, parquetConversion);
    if (!where) continue;
    const splits = configs.get(where.config) ?? new Map<string, HubDataFile[]>();
    configs.set(where.config, splits);
    const list = splits.get(where.split) ?? [];
    splits.set(where.split, list);
    list.push(file);
  }
  const splitRank = (name: string): number => {
    const i = SPLIT_ORDER.indexOf(name);
    return i === -1 ? SPLIT_ORDER.length : i;
  };
  return [...configs.entries()]
    .sort(([a], [b]) => (a === 'default' ? -1 : b === 'default' ? 1 : compareStrings(a, b)))
    .map(([name, splits]) => ({
      name,
      splits: [...splits.entries()]
        .sort(([a], [b]) => splitRank(a) - splitRank(b) || compareStrings(a, b))
        .map(([split, list]) => {
          const sorted = list.slice().sort((x, y) => compareStrings(x.path, y.path));
          return { name: split, files: sorted, bytes: sorted.reduce((s, f) => s + f.size, 0) };
        }),
    }));
}
