// Where the tests that run the real CLI find it and the shared artefacts (../shared: models, data; or
// $FTUNE_SHARED): one place instead of a copy of these lines in every such test.
import * as fs from 'fs';
import * as path from 'path';

/** the repository root (tests run from out/test/<room>/). */
export const ROOT = path.resolve(__dirname, '..', '..', '..');
export const SHARED = [process.env.FTUNE_SHARED, path.join(ROOT, 'shared'), path.join(ROOT, '..', 'shared')]
  .find((p): p is string => p !== undefined && fs.existsSync(path.join(p, 'models'))) ?? path.join(ROOT, '..', 'shared');
/** the tiny pretrained model that answers GSM8K-style arithmetic. */
export const TINY = path.join(SHARED, 'models', 'tiny-gsm8k-base');
export const GSM8K_TEST = path.join(SHARED, 'data', 'gsm8k', 'test.jsonl');
/** the CLI of this checkout (bin/ftune.js loads out/). */
export const CLI = path.join(ROOT, 'bin', 'ftune.js');
