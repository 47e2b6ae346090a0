// Loading what `--model DIR [--adapter DIR]` names, shared by eval / generate / serve.
import { loadTokenizer, type Tokenizer } from '../core/tokenizer';
import { initBackend, type BackendInfo } from '../engine/backend';
import { assertGpuComputesRight } from '../engine/gpuSelfCheck';
import { LoraAdapter } from '../engine/lora';
import { DecoderModel } from '../engine/model';
import type { BackendName } from '../core/runConfig';

export interface LoadedModel {
  backend: BackendInfo;
  model: DecoderModel;
  tokenizer: Tokenizer;
  adapter?: LoraAdapter;
  dispose(): void;
}

export async function loadModel(modelDir: string, adapterDir: string | undefined, backend: BackendName): Promise<LoadedModel> {
  const info = await initBackend(backend);
  const tokenizer = await loadTokenizer(modelDir);
  const model = DecoderModel.load(modelDir);
  try {
    await assertGpuComputesRight(model, info); // a GPU that computes this model wrong stops here
  } catch (err) {
    model.dispose();
    throw err;
  }
  const adapter = adapterDir ? LoraAdapter.load(adapterDir, model) : undefined;
  return {
    backend: info, model, tokenizer, adapter,
    dispose() {
      adapter?.dispose();
      model.dispose();
    },
  };
}
