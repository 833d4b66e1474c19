import { tf } from '../tf.js';
import { seededUniform } from './seeded-random.js';

export interface GradientCheckOptions {
  /** Central-difference step. float32 forward passes need a large one: 1e-2 suits smooth ops. */
  readonly epsilon?: number;
  /** Entries checked per variable (all of them when the variable is smaller). */
  readonly samplesPerTensor?: number;
  readonly seed?: number;
  /**
   * Sign of the random loss weights R. 'signed' (the default) exercises every output; 'positive'
   * stops gradients that flow through a spatially shared path (a pooled, upsampled attention
   * branch) from averaging out to float32 noise.
   */
  readonly lossWeights?: 'signed' | 'positive';
}

export interface GradientSample {
  readonly index: number;
  readonly analytic: number;
  readonly numeric: number;
}

export interface TensorGradientCheck {
  readonly name: string;
  readonly samples: readonly GradientSample[];
  /**
   * ‖analytic − numeric‖ / ‖numeric‖ over the samples: a gradient off by a factor 1 + δ scores δ,
   * while the absolute float32 noise of small entries barely counts.
   */
  readonly error: number;
}

export interface GradientCheckReport {
  readonly tensors: readonly TensorGradientCheck[];
  /** The largest per-variable error. */
  readonly maxError: number;
  /** The variable with the largest error. */
  readonly worst: string;
}

/**
 * Compares tfjs' gradients with central finite differences for the scalar loss Σ forward()·R,
 * R a fixed random tensor (so that no gradient is trivially uniform). The loss is accumulated
 * in float64 from the float32 outputs, which keeps the finite differences accurate to about
 * 1e-5 relative at ε = 1e-2. Checks the trainable variables of `parameters`; to check an input
 * too, wrap it in a variable and include it. Uses only async reads, so it runs on any backend.
 */
export async function checkGradients(
  forward: () => tf.Tensor,
  parameters: ReadonlyMap<string, tf.Variable>,
  options: GradientCheckOptions = {},
): Promise<GradientCheckReport> {
  const epsilon = options.epsilon ?? 1e-2;
  const samplesPerTensor = options.samplesPerTensor ?? 8;
  const seed = options.seed ?? 1;
  const trainable = [...parameters].filter(([, v]) => v.trainable);
  if (trainable.length === 0) throw new Error('checkGradients: no trainable variables to check');

  const probe = tf.tidy(forward);
  const outShape = probe.shape;
  const low = options.lossWeights === 'positive' ? 0.5 : -1;
  const weights = seededUniform(seed, 'gradient-check.weights', probe.size, low, 1);
  probe.dispose();
  const weightTensor = tf.tensor(weights, outShape);

  const loss64 = async (): Promise<number> => {
    const out = tf.tidy(forward);
    const values = await out.data();
    out.dispose();
    let sum = 0;
    for (let i = 0; i < values.length; i++) sum += values[i]! * weights[i]!;
    return sum;
  };

  let grads: tf.NamedTensorMap;
  try {
    const result = tf.variableGrads(
      () => tf.sum(tf.mul(forward(), weightTensor)) as tf.Scalar,
      trainable.map(([, v]) => v),
    );
    result.value.dispose();
    grads = result.grads;
  } finally {
    weightTensor.dispose();
  }

  const tensors: TensorGradientCheck[] = [];
  try {
    for (const [name, variable] of trainable) {
      const grad = grads[variable.name];
      if (!grad) throw new Error(`checkGradients: no gradient reached '${name}'`);
      const analytic = await grad.data();
      const original = Float32Array.from(await variable.data());
      const indices = sampleIndices(original.length, samplesPerTensor, seed, name);
      const samples: GradientSample[] = [];
      const set = (values: Float32Array) => {
        const t = tf.tensor(values, variable.shape);
        variable.assign(t);
        t.dispose();
      };
      try {
        for (const index of indices) {
          const values = original.slice();
          values[index] = original[index]! + epsilon;
          const up = values[index]!;
          set(values);
          const lossUp = await loss64();
          values[index] = original[index]! - epsilon;
          const down = values[index]!;
          set(values);
          const lossDown = await loss64();
          samples.push({ index, analytic: analytic[index]!, numeric: (lossUp - lossDown) / (up - down) });
        }
      } finally {
        set(original);
      }
      const diff = Math.hypot(...samples.map((x) => x.analytic - x.numeric));
      const norm = Math.hypot(...samples.map((x) => x.numeric));
      // A variable whose true gradient vanishes must have a vanishing analytic one too.
      const error = norm > 1e-9 ? diff / norm : diff;
      tensors.push({ name, samples, error });
    }
  } finally {
    for (const g of Object.values(grads)) g.dispose();
  }
  const worst = tensors.reduce((a, b) => (b.error > a.error ? b : a));
  return { tensors, maxError: worst.error, worst: worst.name };
}

function sampleIndices(size: number, count: number, seed: number, key: string): number[] {
  if (size <= count) return Array.from({ length: size }, (_, i) => i);
  const picks = new Set<number>();
  const draws = seededUniform(seed, `gradient-check.${key}`, count * 8, 0, 1);
  for (let i = 0; i < draws.length && picks.size < count; i++) picks.add(Math.floor(draws[i]! * size));
  return [...picks];
}
