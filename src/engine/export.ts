// Writing a whole model folder (full fine-tuning checkpoints, merged LoRA exports): weights as
// safetensors plus the base folder's config, generation config and tokenizer files.
import * as fs from 'fs';
import * as path from 'path';
import { writeSafetensors } from '../core/safetensors';
import type { DecoderModel } from './model';

const COPIED_FILES = ['config.json', 'generation_config.json', 'tokenizer.json', 'tokenizer_config.json', 'special_tokens_map.json', 'chat_template.jinja'];

export async function saveFullModel(model: DecoderModel, baseDir: string, dir: string, dtype: 'F32' | 'F16' | 'BF16' = 'F32'): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  const tensors = [];
  for (const [name, t] of model.weights) {
    if (model.config.tie_word_embeddings && name === 'lm_head.weight') continue;
    tensors.push({ name, shape: t.shape, data: (await t.data()) as Float32Array });
  }
  writeSafetensors(path.join(dir, 'model.safetensors'), tensors, { dtype, metadata: { format: 'pt' } });
  for (const f of COPIED_FILES) {
    const src = path.join(baseDir, f);
    if (fs.existsSync(src)) fs.copyFileSync(src, path.join(dir, f));
  }
}
