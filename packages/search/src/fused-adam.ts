import { registerFusedKernel, runFused, runFusedMulti, tf, type FusedKernel } from '@quantnas/core-ops';

// Adam's update of one variable (weight decay, both moments, bias correction, the step) in one
// kernel with three outputs, and the global gradient norm of every variable in one kernel: the
// composed update runs about twelve kernels per variable, which dominated the optimiser's time.

/** The hyperparameters of one update; `scale` multiplies the gradient (global-norm clipping). */
export interface AdamUpdateAttrs {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly weightDecay: number;
  readonly lr: number;
  /** 1 − β₁^t and 1 − β₂^t. */
  readonly c1: number;
  readonly c2: number;
  /** Clip to this global norm (0: no clipping); the norm² is the kernel's `normSq` input. */
  readonly maxNorm: number;
}

type Attrs = tf.NamedAttrMap;
const f32 = Math.fround;

const update: FusedKernel = {
  name: 'QnasAdamUpdate',
  inputNames: () => ['theta', 'g', 'm', 'v', 'normSq'],
  outputShapes: ([theta]) => [[...theta!], [...theta!], [...theta!]],
  compute([theta, g, m, v, normSq], [thetaOut, mOut, vOut], _shapes, attrs) {
    const a = attrs as unknown as AdamUpdateAttrs;
    // PyTorch's clip_grad_norm_: coefficient min(maxNorm / (norm + 1e-6), 1), in float32 as the
    // composed path computes it.
    const scale = a.maxNorm > 0 ? Math.min(f32(a.maxNorm / f32(f32(Math.sqrt(normSq![0]!)) + 1e-6)), 1) : 1;
    const t = theta!;
    const grad = g!;
    const m0 = m!;
    const v0 = v!;
    const tOut = thetaOut!;
    const mo = mOut!;
    const vo = vOut!;
    const { beta1, beta2, epsilon, weightDecay, lr, c1, c2 } = a;
    for (let i = 0; i < t.length; i++) {
      const gi = f32(grad[i]! * scale) + weightDecay * t[i]!;
      const mi = beta1 * m0[i]! + (1 - beta1) * gi;
      const vi = beta2 * v0[i]! + (1 - beta2) * gi * gi;
      mo[i] = mi;
      vo[i] = vi;
      tOut[i] = t[i]! - lr * (mi / c1 / (Math.sqrt(vi / c2) + epsilon));
    }
  },
};

/** Σ g² over every input (in float64), as a one-element tensor. */
const sumSquares: FusedKernel = {
  name: 'QnasSumSquares',
  inputNames: (a) => Array.from({ length: (a as { count: number }).count }, (_, i) => String(i)),
  outputShapes: () => [[1]],
  compute(inputs, [out]) {
    let s = 0;
    for (const g of inputs) for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
    out![0] = s;
  },
};

let ready = false;
function register(): void {
  if (ready) return;
  registerFusedKernel(update);
  registerFusedKernel(sumSquares);
  ready = true;
}

/** Σ over the tensors of Σ g², one kernel. */
export function fusedSumSquares(tensors: readonly tf.Tensor[]): tf.Tensor1D {
  register();
  return runFused(sumSquares.name, [...tensors] as unknown as tf.NamedTensorMap, { count: tensors.length }) as tf.Tensor1D;
}

/** One Adam update of θ: the new θ, m and v. */
export function fusedAdamUpdate(
  theta: tf.Tensor,
  g: tf.Tensor,
  m: tf.Tensor,
  v: tf.Tensor,
  normSq: tf.Tensor,
  attrs: AdamUpdateAttrs,
): [tf.Tensor, tf.Tensor, tf.Tensor] {
  register();
  return runFusedMulti(update.name, { theta, g, m, v, normSq }, attrs as unknown as Attrs) as [tf.Tensor, tf.Tensor, tf.Tensor];
}
