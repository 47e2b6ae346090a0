// Phi-4-mini's real shape (test/helpers/realShapes.ts, from microsoft/Phi-4-mini-instruct's
// config.json) as the engine reads it. It waits outside the real-shape matrix (PHI4_MINI_IN_MATRIX):
// its float32 vocabulary matrix is 2.3 GiB, which wasm holds (measured: one layer loads and computes
// logits, 4.9 GB resident) but which takes about 3 minutes per backend to write and load here, more
// than the matrix's whole budget. Fast: nothing here allocates the weights.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { parseModelConfig, ropeInverseFrequencies, rotaryDimension } from '../../src/core/modelConfig';
import { layerProjections } from '../../src/engine/families';
import { PHI4_MINI, PHI4_MINI_IN_MATRIX, REAL_SHAPES } from '../helpers/realShapes';

test('Phi-4-mini at its real shape: 128-dim heads of which 96 turn, longrope past 4,096 positions, fused projections, one tied 200,064-row vocabulary', () => {
  const c = parseModelConfig(PHI4_MINI.config, 'Phi-4-mini/config.json');
  assert.equal(c.head_dim, 128);
  assert.equal(rotaryDimension(c), 96);
  assert.equal(c.rope_scaling.rope_type, 'longrope');
  // short factors (all 1) up to original_max_position_embeddings: plain rope; the long ones after it
  const plain = Array.from({ length: 48 }, (_, j) => 1 / 10000 ** ((2 * j) / 96));
  const short = ropeInverseFrequencies(c, { positions: 4096 });
  const long = ropeInverseFrequencies(c, { positions: 4097 });
  short.forEach((f, j) => assert.ok(Math.abs(f - plain[j]) <= 1e-12 * plain[j], `short factor ${j}`));
  assert.ok(Math.abs(long[47] - plain[47] / 47.77) <= 1e-12 * plain[47], 'the last long factor divides the slowest frequency');
  assert.ok(c.rope_scaling.rope_type === 'longrope' && c.rope_scaling.attention_factor > 1, 'longrope scales cos and sin past the original context');
  assert.deepEqual(layerProjections(c).map((p) => [p.name, p.out, p.in]), [
    ['self_attn.qkv_proj', (24 + 2 * 8) * 128, 3072],
    ['self_attn.o_proj', 3072, 3072],
    ['mlp.gate_up_proj', 2 * 8192, 3072],
    ['mlp.down_proj', 3072, 8192],
  ]);
  assert.equal(c.tie_word_embeddings, true);
  assert.equal(c.vocab_size * c.hidden_size * 4, 2_458_386_432, 'the vocabulary matrix in float32 (2.3 GiB)');
  // the one-line switch that puts it into the matrix (see realShapes.ts)
  assert.equal(REAL_SHAPES.includes(PHI4_MINI), PHI4_MINI_IN_MATRIX && (!process.env.FTUNE_REAL_SHAPES || process.env.FTUNE_REAL_SHAPES.split(',').includes('Phi-4-mini')));
});
