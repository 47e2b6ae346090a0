// Loading what `--model DIR [--adapter DIR]` names, shared by eval / generate / serve.
import { loadTokenizer, type Tokenizer } from '../core/tokenizer';
import { initBackend, type BackendInfo } from '../engine/backend';
import { assertGpuComputesRight } from '../engine/gpuSelfCheck';
import { LoraAdapter } from '../engine/lora';
import { DecoderModel } from '../engine/model';
import type { BackendName, Quantize } from '../core/runConfig';
import { runConfigOfAdapter } from '../core/runConfigFile';

export interface LoadedModel {
  backend: BackendInfo;
  model: DecoderModel;
  /** how the frozen base is held: --quantize, else the adapter's run's value, else 'none'. */
  quantize: Quantize;
  tokenizer: Tokenizer;
  adapter?: LoraAdapter;
  dispose(): void;
}

/**
 * The base precision to load: `--quantize` when given, else the value of the run the adapter comes
 * from (an adapter trained on an nf4 base is evaluated and served on that base), else 'none'.
 */
export function resolveQuantize(given: Quantize | undefined, adapterDir: string | undefined): Quantize {
  if (given !== undefined) return given;
  return (adapterDir ? runConfigOfAdapter(adapterDir)?.quantize : undefined) ?? 'none';
}

export async function loadModel(modelDir: string, adapterDir: string | undefined, backend: BackendName, given?: Quantize): Promise<LoadedModel> {
  const quantize = resolveQuantize(given, adapterDir);
  const info = await initBackend(backend, { packedWeights: quantize !== 'none' });
  const tokenizer = await loadTokenizer(modelDir);
  const model = await loadBaseModel(modelDir, quantize, info);
  const adapter = adapterDir ? LoraAdapter.load(adapterDir, model) : undefined;
  return {
    backend: info, model, quantize, tokenizer, adapter,
    dispose() {
      adapter?.dispose();
      model.dispose();
    },
  };
}

/** The frozen base at `quantize`, checked on the GPU first (a GPU that computes this model wrong stops here). */
export async function loadBaseModel(modelDir: string, quantize: Quantize, backend: BackendInfo): Promise<DecoderModel> {
  const model = DecoderModel.load(modelDir, { quantize });
  try {
    await assertGpuComputesRight(model, backend);
  } catch (err) {
    model.dispose();
    throw err;
  }
  return model;
}
