// Training methods the wizard offers. Data-driven so DPO / CPT / reward / GRPO are one entry each:
// a method names the data formats it accepts and whether the trainer supports it yet.

import type { Method } from '../core/protocol';
import type { DataFormat } from '../core/runConfig';

export interface MethodInfo {
  id: Method;
  label: string;
  description: string;
  /** data formats this method trains on (first = preferred). */
  formats: readonly Exclude<DataFormat, 'auto'>[];
  /** false while `ftune train` does not implement it: shown, but not selectable. */
  available: boolean;
}

export const METHODS: readonly MethodInfo[] = [
  {
    id: 'sft',
    label: 'Supervised fine-tuning (SFT)',
    description: 'learn to answer: chat messages or prompt → completion pairs',
    formats: ['messages', 'prompt-completion', 'text'],
    available: true,
  },
  { id: 'cpt', label: 'Continued pre-training', description: 'plain text, next-token loss on everything', formats: ['text'], available: true },
  { id: 'dpo', label: 'Direct preference optimisation (DPO)', description: 'prompt + chosen / rejected pairs', formats: ['preference'], available: true },
  { id: 'reward', label: 'Reward model', description: 'score chosen above rejected (RLHF step 1)', formats: ['preference'], available: true },
  {
    id: 'grpo', label: 'GRPO (RLHF step 2)', description: 'reinforcement learning from verifiable answers (#### n) or a reward model',
    formats: ['prompt-completion', 'messages'], available: true,
  },
];

export function methodInfo(id: Method): MethodInfo {
  const info = METHODS.find((m) => m.id === id);
  if (!info) throw new Error(`unknown method ${id}`);
  return info;
}
