import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Module } from '../module.js';
import { tf } from '../tf.js';
import { createBatchNorm } from './batch-norm.js';
import { variableFrom } from './checks.js';
import { resizeBilinear } from './bilinear.js';
import { addRepeatedChannels, repeatChannels } from './channel-repeat.js';
import { createConv } from './conv.js';
import { createEsa } from './esa.js';
import { maxPool } from './max-pool.js';
import { pixelShuffle } from './pixel-shuffle.js';
import { plainQuantizers } from './plain-quantizer.js';
import { createPrimitive } from './primitive.js';
import { smoothQuantizers } from './test-helpers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Runs forward + backward `steps` times and returns the tensor count after each step. */
function countsOverSteps(forward: (x: tf.Tensor4D) => tf.Tensor, x: tf.Variable, variables: tf.Variable[], steps = 4): number[] {
  const counts: number[] = [];
  for (let i = 0; i < steps; i++) {
    const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(forward(x as unknown as tf.Tensor4D))) as tf.Scalar, [x, ...variables]);
    tf.dispose([value, ...Object.values(grads)]);
    counts.push(tf.memory().numTensors);
  }
  return counts;
}

const moduleCases: [string, () => Module, number, number][] = [
  [
    'conv (grouped, bias)',
    () => createConv({ name: 'c', inChannels: 4, outChannels: 4, kernel: 3, groups: 2, bias: true, quantizers: smoothQuantizers, seed: 1 }),
    4,
    8,
  ],
  ['growth2_3x3', () => createPrimitive('growth2_3x3', { name: 'p', inChannels: 4, outChannels: 4, width: 4, quantizers: plainQuantizers, seed: 1 }), 4, 8],
  [
    'simple_3x3_grouped_2',
    () => createPrimitive('simple_3x3_grouped_2', { name: 'p', inChannels: 4, outChannels: 4, width: 4, quantizers: plainQuantizers, seed: 1 }),
    4,
    8,
  ],
  ['conv_3x1_1x3', () => createPrimitive('conv_3x1_1x3', { name: 'p', inChannels: 4, outChannels: 4, width: 4, quantizers: plainQuantizers, seed: 1 }), 4, 8],
  ['skip_connect', () => createPrimitive('skip_connect', { name: 'p', inChannels: 4, outChannels: 4, width: 4, quantizers: plainQuantizers, seed: 1 }), 4, 8],
  ['zero', () => createPrimitive('zero', { name: 'p', inChannels: 4, outChannels: 4, width: 4, quantizers: plainQuantizers, seed: 1 }), 4, 8],
  ['ESA', () => createEsa({ name: 'e', channels: 4, quantizers: plainQuantizers, seed: 1 }), 4, 16],
  ['batch norm', () => createBatchNorm({ name: 'bn', channels: 4, momentum: 0.1, epsilon: 1e-5 }), 4, 8],
];

describe('no tensor leaks', () => {
  it.each(moduleCases)('%s: the tensor count stays flat over repeated forward + backward, and dispose frees it all', (_, make, channels, size) => {
    const before = tf.memory().numTensors;
    const module = make();
    const x = variableFrom(tf.randomUniform([2, size, size, channels], 0.1, 1), true);
    const trainable = [...module.variables().values()].filter((v) => v.trainable);
    for (const training of [true, false]) {
      const counts = countsOverSteps((t) => module.apply(t, { training }), x, trainable);
      expect(new Set(counts.slice(1)).size, `training ${training}: ${counts.join(', ')}`).toBe(1);
      expect(counts[0]).toBe(counts[1]);
    }
    x.dispose();
    module.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('functional ops leave nothing behind', () => {
    const x = variableFrom(tf.randomUniform([2, 15, 15, 4], 0.1, 1), true) as unknown as tf.Tensor4D;
    const before = tf.memory().numTensors;
    const ops: ((t: tf.Tensor4D) => tf.Tensor)[] = [
      (t) => pixelShuffle(t, 2),
      (t) => repeatChannels(t, 3),
      (t) => addRepeatedChannels(repeatChannels(t, 2), t),
      (t) => resizeBilinear(t, 20, 17),
      (t) => maxPool(t, 7, 3),
    ];
    for (const op of ops) {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.square(op(x))) as tf.Scalar, [x as unknown as tf.Variable]);
      tf.dispose([value, ...Object.values(grads)]);
      expect(tf.memory().numTensors).toBe(before);
    }
    x.dispose();
  });
});

describe('op sources', () => {
  // Synchronous reads stall webgpu and break on async backends; input-derived tf.where breaks tapes.
  it('never read tensors synchronously nor select with tf.where', () => {
    const dir = import.meta.dirname;
    const sources = readdirSync(dir).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts') && f !== 'test-helpers.ts');
    expect(sources.length).toBeGreaterThan(8);
    for (const file of sources) {
      const text = readFileSync(join(dir, file), 'utf8');
      expect(text, file).not.toMatch(/\b(dataSync|arraySync|bufferSync)\s*\(|\btf\.where\s*\(/);
    }
  });
});
