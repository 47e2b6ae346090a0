// A Finetune Studio run (run_config.json) translated into the settings of the Python tools that
// scale it up: TRL's SFTConfig/DPOConfig + PEFT's LoraConfig (trl_config.json, read by train.py),
// accelerate launch configs (DeepSpeed ZeRO-2/3, FSDP, multi-node) and an Axolotl config.
import { resolveLoraTargets, type RunConfig, type Schedule } from '../../core/runConfig';
import { parseMix } from '../../engine/trainingData';
import type { YamlValue } from './yaml';

export type TrlMethod = 'sft' | 'cpt' | 'dpo';
export type DataKind = 'messages' | 'prompt-completion' | 'text' | 'preference';

type Json = YamlValue;

export interface TrlConfig {
  generated_by: string;
  method: TrlMethod;
  model: string;
  train_file: string;
  eval_file: string | null;
  /** --mix FILE:RATIO entries: general data making up RATIO of the training mix. */
  mix: { file: string; ratio: number }[];
  data: {
    format: RunConfig['format'];
    fields: Record<string, string>;
    max_length: number;
    limit: number;
    shuffle: boolean;
    seed: number;
    eval_split: number;
  };
  /** PEFT LoraConfig keyword arguments; null for full fine-tuning. */
  peft: { r: number; lora_alpha: number; lora_dropout: number; target_modules: string[]; bias: 'none'; task_type: 'CAUSAL_LM' } | null;
  init_adapter: string | null;
  /**
   * transformers' BitsAndBytesConfig keyword arguments for a run trained on a quantized base (QLoRA:
   * nf4 in blocks of 64, as bitsandbytes; int8: bitsandbytes 8-bit rows); null for a 16-bit base.
   */
  quantization: { load_in_4bit: true; bnb_4bit_quant_type: 'nf4'; bnb_4bit_use_double_quant: false; bnb_4bit_compute_dtype: 'bfloat16' } | { load_in_8bit: true } | null;
  chat_template_file: string | null;
  /** SFTConfig / DPOConfig keyword arguments (transformers TrainingArguments names). */
  training_args: Record<string, string | number | boolean | null>;
}

/** transformers' lr_scheduler_type with the same curve as ours (optimizer.ts follows get_scheduler). */
export function schedulerType(schedule: Schedule, warmupSteps: number): string {
  if (schedule === 'constant') return warmupSteps > 0 ? 'constant_with_warmup' : 'constant';
  return schedule;
}

export function trlMethod(config: RunConfig): TrlMethod {
  if (config.method === 'sft' || config.method === 'cpt' || config.method === 'dpo') return config.method;
  throw new Error(`--to trl supports sft, cpt and dpo runs; this run uses ${config.method}`);
}

export function buildTrlConfig(config: RunConfig, chatTemplateFile: string | null): TrlConfig {
  const method = trlMethod(config);
  const args: TrlConfig['training_args'] = {
    output_dir: 'outputs',
    num_train_epochs: config.epochs,
    // ours: max_steps > 0 overrides epochs; transformers: the same with -1 meaning "use epochs"
    max_steps: config.max_steps > 0 ? config.max_steps : -1,
    per_device_train_batch_size: config.batch_size,
    per_device_eval_batch_size: config.batch_size,
    gradient_accumulation_steps: config.grad_accum,
    learning_rate: config.lr,
    weight_decay: config.weight_decay,
    optim: 'adamw_torch',
    adam_beta1: config.adam_beta1,
    adam_beta2: config.adam_beta2,
    adam_epsilon: config.adam_eps,
    // 0 disables clipping in both
    max_grad_norm: config.max_grad_norm,
    lr_scheduler_type: schedulerType(config.schedule, config.warmup_steps),
    warmup_steps: config.warmup_steps,
    seed: config.seed,
    data_seed: config.seed,
    // ours: 0 = only at the end (train.py then calls trainer.evaluate() once)
    eval_strategy: config.eval_every > 0 ? 'steps' : 'no',
    eval_steps: config.eval_every > 0 ? config.eval_every : null,
    save_strategy: config.save_every > 0 ? 'steps' : 'no',
    save_steps: config.save_every > 0 ? config.save_every : null,
    logging_steps: 1,
    neftune_noise_alpha: config.neftune_alpha > 0 ? config.neftune_alpha : null,
    gradient_checkpointing: config.gradient_checkpointing,
    max_length: config.max_length,
    remove_unused_columns: false,
    report_to: 'none',
  };
  if (method === 'dpo') args.beta = config.beta;
  return {
    generated_by: 'Finetune Studio (ftune export --to trl)',
    method,
    model: config.model,
    train_file: config.data,
    eval_file: config.eval_data ?? null,
    mix: config.mix.map(parseMix),
    data: {
      format: config.format, fields: { ...config.fields }, max_length: config.max_length, limit: config.limit,
      shuffle: config.shuffle, seed: config.seed, eval_split: config.eval_data ? 0 : config.eval_split,
    },
    peft: config.full ? null : {
      r: config.lora_r, lora_alpha: config.lora_alpha, lora_dropout: config.lora_dropout,
      target_modules: resolveLoraTargets(config.lora_targets), bias: 'none', task_type: 'CAUSAL_LM',
    },
    init_adapter: config.init_adapter ?? null,
    quantization: bitsAndBytesConfig(config),
    chat_template_file: chatTemplateFile,
    training_args: args,
  };
}

/** Our nf4 is bitsandbytes' NF4 (block 64, float32 absmax: no double quantization); int8 maps to its 8-bit loading. */
function bitsAndBytesConfig(config: RunConfig): TrlConfig['quantization'] {
  if (config.full) return null;
  if (config.quantize === 'nf4') return { load_in_4bit: true, bnb_4bit_quant_type: 'nf4', bnb_4bit_use_double_quant: false, bnb_4bit_compute_dtype: 'bfloat16' };
  if (config.quantize === 'int8') return { load_in_8bit: true };
  return null;
}

// ---------------------------------------------------------------- accelerate

export interface AccelerateConfigs {
  [file: string]: { comments: string[]; config: { [key: string]: Json } };
}

/**
 * PEFT's target_modules must name the model's own modules: phi3 has qkv_proj and gate_up_proj where
 * llama-style names (as 'all-linear' resolves) say q/k/v_proj and gate/up_proj, as the engine maps them.
 */
export function withModelTargets(config: RunConfig, modelType: string): RunConfig {
  if (modelType !== 'phi3' || config.full) return config;
  const fused: Record<string, string> = { q_proj: 'qkv_proj', k_proj: 'qkv_proj', v_proj: 'qkv_proj', gate_proj: 'gate_up_proj', up_proj: 'gate_up_proj' };
  return { ...config, lora_targets: [...new Set(resolveLoraTargets(config.lora_targets).map((t) => fused[t] ?? t))] };
}

/** transformers' decoder layer class, which FSDP wraps one by one. */
export function decoderLayerClass(modelType: string): string {
  switch (modelType) {
    case 'llama': return 'LlamaDecoderLayer';
    case 'mistral': return 'MistralDecoderLayer';
    case 'qwen2': return 'Qwen2DecoderLayer';
    case 'qwen3': return 'Qwen3DecoderLayer';
    case 'gemma3_text':
    case 'gemma3': return 'Gemma3DecoderLayer';
    case 'phi3': return 'Phi3DecoderLayer';
    default: throw new Error(`no FSDP layer class known for model_type ${modelType}`);
  }
}

export const GPUS_PER_NODE = 8;
export const NODES = 2;

export function accelerateConfigs(config: RunConfig, modelType: string): AccelerateConfigs {
  const base = (machines: number): { [key: string]: Json } => ({
    compute_environment: 'LOCAL_MACHINE',
    debug: false,
    downcast_bf16: 'no',
    machine_rank: 0,
    main_training_function: 'main',
    mixed_precision: 'bf16',
    num_machines: machines,
    num_processes: machines * GPUS_PER_NODE,
    rdzv_backend: 'static',
    same_network: true,
    use_cpu: false,
  });
  const deepspeed = (stage: 2 | 3): { [key: string]: Json } => ({
    deepspeed_multinode_launcher: 'standard',
    // must equal train.py's gradient_accumulation_steps / max_grad_norm, or accelerate refuses to start
    gradient_accumulation_steps: config.grad_accum,
    gradient_clipping: config.max_grad_norm,
    offload_optimizer_device: 'none',
    offload_param_device: 'none',
    zero3_init_flag: stage === 3,
    ...(stage === 3 ? { zero3_save_16bit_model: true } : {}),
    zero_stage: stage,
  });
  const multiNode = { main_process_ip: 'MAIN_NODE_IP', main_process_port: 29500 };
  const fsdp: { [key: string]: Json } = {
    fsdp_auto_wrap_policy: 'TRANSFORMER_BASED_WRAP',
    fsdp_backward_prefetch: 'BACKWARD_PRE',
    fsdp_cpu_ram_efficient_loading: true,
    fsdp_forward_prefetch: false,
    fsdp_offload_params: false,
    fsdp_sharding_strategy: 'FULL_SHARD',
    fsdp_state_dict_type: 'SHARDED_STATE_DICT',
    fsdp_sync_module_states: true,
    fsdp_transformer_layer_cls_to_wrap: decoderLayerClass(modelType),
    // PEFT + FSDP needs the flattened parameters; full fine-tuning can keep the originals
    fsdp_use_orig_params: config.full,
  };
  const launch = (file: string) => `accelerate launch --config_file accelerate/${file} train.py`;
  return {
    'deepspeed_zero2.yaml': {
      comments: ['DeepSpeed ZeRO-2: optimizer state and gradients sharded across GPUs (one node).', launch('deepspeed_zero2.yaml')],
      config: { ...base(1), distributed_type: 'DEEPSPEED', deepspeed_config: deepspeed(2) },
    },
    'deepspeed_zero3.yaml': {
      comments: ['DeepSpeed ZeRO-3: parameters sharded too, for models that do not fit on one GPU (one node).', launch('deepspeed_zero3.yaml')],
      config: { ...base(1), distributed_type: 'DEEPSPEED', deepspeed_config: deepspeed(3) },
    },
    'fsdp.yaml': {
      comments: ['PyTorch FSDP, full sharding, wrapping each decoder layer (one node).', launch('fsdp.yaml')],
      config: { ...base(1), distributed_type: 'FSDP', fsdp_config: fsdp },
    },
    'deepspeed_zero3_multinode.yaml': {
      comments: [
        `DeepSpeed ZeRO-3 on ${NODES} nodes x ${GPUS_PER_NODE} GPUs. On every node (machine_rank 0 on the main node):`,
        `accelerate launch --config_file accelerate/deepspeed_zero3_multinode.yaml --machine_rank $NODE_RANK --main_process_ip $MAIN_NODE_IP train.py`,
      ],
      config: { ...base(NODES), ...multiNode, distributed_type: 'DEEPSPEED', deepspeed_config: deepspeed(3) },
    },
    'fsdp_multinode.yaml': {
      comments: [
        `FSDP on ${NODES} nodes x ${GPUS_PER_NODE} GPUs. On every node (machine_rank 0 on the main node):`,
        `accelerate launch --config_file accelerate/fsdp_multinode.yaml --machine_rank $NODE_RANK --main_process_ip $MAIN_NODE_IP train.py`,
      ],
      config: { ...base(NODES), ...multiNode, distributed_type: 'FSDP', fsdp_config: fsdp },
    },
  };
}

// ---------------------------------------------------------------- Axolotl

function column(config: RunConfig, key: string): string {
  return config.fields[key] ?? key;
}

function axolotlDataset(config: RunConfig, file: string, kind: DataKind | undefined): { [key: string]: Json } {
  if (config.method === 'cpt' || kind === 'text') return { path: file, ds_type: 'json', type: 'completion', field: column(config, 'text') };
  if (kind === 'preference') {
    return {
      path: file, ds_type: 'json', type: 'chat_template.default',
      field_messages: column(config, 'prompt'), field_chosen: column(config, 'chosen'), field_rejected: column(config, 'rejected'),
    };
  }
  if (kind === 'prompt-completion') {
    // Our prompt/completion masking: the raw prompt, untrained, then completion + eos, trained.
    return {
      path: file, ds_type: 'json',
      type: { field_instruction: column(config, 'prompt'), field_output: column(config, 'completion'), format: '{instruction}', no_input_format: '{instruction}' },
    };
  }
  // messages (and the default when the format could not be determined)
  return {
    path: file, ds_type: 'json', type: 'chat_template',
    field_messages: column(config, 'messages'),
    message_property_mappings: { role: column(config, 'role'), content: column(config, 'content') },
    roles_to_train: ['assistant'],
    // the assistant turn's end-of-turn tokens are trained too, as ours
    train_on_eos: 'turn',
  };
}

export interface AxolotlResult {
  config: { [key: string]: Json };
  /** differences Axolotl cannot express, written as comments. */
  notes: string[];
}

/** `kindOf(file)`: the record format of a data file (undefined when it cannot be read). */
export function axolotlConfig(config: RunConfig, kindOf: (file: string) => DataKind | undefined, chatTemplate: string | undefined): AxolotlResult {
  const notes: string[] = [];
  const kind = kindOf(config.data);
  const datasets = [axolotlDataset(config, config.data, kind)];
  const mix = config.mix.map(parseMix);
  for (const m of mix) datasets.push(axolotlDataset(config, m.file, kindOf(m.file)));
  if (mix.length) notes.push(`mix ratios (${config.mix.join(', ')}) are not expressible: Axolotl concatenates the datasets`);
  if (config.limit > 0) notes.push(`limit ${config.limit}: Axolotl has no example limit; trim the data file to the first ${config.limit} examples (train.py applies it)`);
  if (kind === undefined) notes.push('the data format could not be determined; the dataset entry assumes chat messages');
  const out: { [key: string]: Json } = {
    base_model: config.model,
    model_type: 'AutoModelForCausalLM',
    tokenizer_type: 'AutoTokenizer',
  };
  if (!config.full) {
    // QLoRA: Axolotl's 4-bit base is bitsandbytes NF4, as ours
    out.adapter = config.quantize === 'nf4' ? 'qlora' : 'lora';
    if (config.quantize === 'nf4') out.load_in_4bit = true;
    if (config.quantize === 'int8') out.load_in_8bit = true;
    if (config.init_adapter) out.lora_model_dir = config.init_adapter;
    out.lora_r = config.lora_r;
    out.lora_alpha = config.lora_alpha;
    out.lora_dropout = config.lora_dropout;
    out.lora_target_modules = resolveLoraTargets(config.lora_targets);
  }
  if (config.method === 'dpo') {
    out.rl = 'dpo';
    out.rl_beta = config.beta;
  }
  out.datasets = datasets;
  if (config.eval_data) out.test_datasets = [{ ...axolotlDataset(config, config.eval_data, kindOf(config.eval_data)), split: 'train' }];
  else out.val_set_size = config.eval_split;
  if (chatTemplate !== undefined && config.method !== 'cpt' && kind !== 'prompt-completion' && kind !== 'text') {
    out.chat_template = 'jinja';
    out.chat_template_jinja = chatTemplate;
  }
  Object.assign(out, {
    dataset_prepared_path: 'last_run_prepared',
    output_dir: './outputs-axolotl',
    sequence_len: config.max_length,
    sample_packing: config.method === 'cpt',
    train_on_inputs: false,
    shuffle_merged_datasets: config.shuffle,
    seed: config.seed,
    num_epochs: config.epochs,
    ...(config.max_steps > 0 ? { max_steps: config.max_steps } : {}),
    micro_batch_size: config.batch_size,
    eval_batch_size: config.batch_size,
    gradient_accumulation_steps: config.grad_accum,
    optimizer: 'adamw_torch',
    learning_rate: config.lr,
    weight_decay: config.weight_decay,
    adam_beta1: config.adam_beta1,
    adam_beta2: config.adam_beta2,
    adam_epsilon: config.adam_eps,
    max_grad_norm: config.max_grad_norm,
    lr_scheduler: schedulerType(config.schedule, config.warmup_steps),
    warmup_steps: config.warmup_steps,
    ...(config.eval_every > 0 ? { eval_steps: config.eval_every } : {}),
    ...(config.save_every > 0 ? { save_steps: config.save_every } : {}),
    ...(config.neftune_alpha > 0 ? { neftune_noise_alpha: config.neftune_alpha } : {}),
    gradient_checkpointing: config.gradient_checkpointing,
    bf16: 'auto',
    logging_steps: 1,
  });
  return { config: out, notes };
}
