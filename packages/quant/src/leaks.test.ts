import { tf, type ConvQuantizer, type ConvSite } from '@quantnas/core-ops';
import { beforeAll, describe, expect, it } from 'vitest';
import { directQuantizers } from './direct-quantizers.js';
import { noiseQuantizers } from './noise-quantizers.js';
import { qatQuantizers } from './qat-quantizers.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const site: ConvSite = { name: 'conv', shape: { kernelH: 3, kernelW: 3, inChannels: 2, outChannels: 3, groups: 1 } };
const values = (n: number, offset = 0) => Array.from({ length: n }, (_, i) => offset + Math.sin(1.1 * i) * Math.cos(0.4 * i));

describe('tensor bookkeeping', () => {
  const alpha = () => tf.variable(tf.tensor1d([0.1, -0.2]));
  const cases: [string, (a: tf.Variable) => ConvQuantizer][] = [
    ['qat', () => qatQuantizers(() => ({ weightBits: 4, activationBits: 6, weightScheme: 'lsq', activationScheme: 'hwgq' }))(site)],
    ['noise through', (a) => noiseQuantizers({ bits: [4, 8], probabilities: () => () => tf.softmax(a) as tf.Tensor1D, seed: 2 })(site)],
    [
      'noise detached, gaussian',
      (a) =>
        noiseQuantizers({ bits: [2, 32], probabilities: () => () => tf.softmax(a) as tf.Tensor1D, seed: 2, noise: 'gaussian', noiseGradient: 'detached' })(
          site,
        ),
    ],
    ['direct', (a) => directQuantizers({ bits: [4, 5], probabilities: () => () => tf.softmax(a) as tf.Tensor1D })(site)],
  ];
  for (const [name, make] of cases) {
    it(`${name}: repeated forward + backward leaves no tensors behind`, () => {
      const a = alpha();
      const q = make(a);
      const w = tf.variable(tf.tensor4d(values(54), [3, 3, 2, 3]));
      const x = tf.tensor4d(values(32, 0.3), [1, 4, 4, 2]);
      const vars = [w, a, ...q.variables().values()];
      const step = (training: boolean) => {
        const { value, grads } = tf.variableGrads(() => tf.sum(tf.conv2d(q.input(x, training), q.weight(w, training), 1, 'same')) as tf.Scalar, vars);
        tf.dispose([value, ...Object.values(grads)]);
      };
      step(true);
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) {
        step(true);
        step(false);
      }
      expect(tf.memory().numTensors).toBe(before);
      const owned = q.variables().size;
      q.dispose();
      expect(tf.memory().numTensors).toBe(before - owned);
      tf.dispose([w, x, a]);
    });
  }
});
