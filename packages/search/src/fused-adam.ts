import { registerFusedKernel, runFused, runFusedMulti, runWgslElementwise, runWgslReduction, tf, type FusedKernel, type WgslUniform } from '@quantnas/core-ops';

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
  webgpu: (backend, [theta, g, m, v, normSq], attrs) => {
    const a = attrs as unknown as AdamUpdateAttrs;
    const names = ['beta1', 'beta2', 'epsilon', 'weightDecay', 'lr', 'c1', 'c2', 'maxNorm'] as const;
    const uniforms: WgslUniform[] = names.map((name) => ({ name, type: 'f32', value: a[name] }));
    const inputs = { theta: theta!, g: g!, m: m!, v: v!, normSq: normSq! };
    // One program per output, each recomputing the (cheap) update.
    const helpers = `
fn adamAt(i : i32) -> vec3<f32> {
  var scale = 1.0;
  if (uniforms.maxNorm > 0.0) { scale = min(uniforms.maxNorm / (sqrt(normSq[0]) + 1e-6), 1.0); }
  let t = theta[i];
  let gi = g[i] * scale + uniforms.weightDecay * t;
  let mi = uniforms.beta1 * m[i] + (1.0 - uniforms.beta1) * gi;
  let vi = uniforms.beta2 * v[i] + (1.0 - uniforms.beta2) * gi * gi;
  return vec3<f32>(t - uniforms.lr * (mi / uniforms.c1 / (sqrt(vi / uniforms.c2) + uniforms.epsilon)), mi, vi);
}`;
    return (['x', 'y', 'z'] as const).map((c, k) =>
      runWgslElementwise(backend, {
        key: `adam_update_${k}`,
        inputs,
        outputShape: theta!.shape,
        uniforms,
        helpers,
        body: `setOutputAtIndex(index, adamAt(index).${c});`,
      }),
    );
  },
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
  webgpu: (backend, inputs) => {
    // A device binds at least 8 storage buffers per shader: up to 6 tensors and the running sum
    // per program, the output the 8th.
    let sum: tf.TensorInfo | null = null;
    for (let start = 0; start < inputs.length || sum === null; start += 6) {
      const part = inputs.slice(start, start + 6);
      const named: Record<string, tf.TensorInfo> = {};
      part.forEach((t, j) => (named[`g${j}`] = t));
      if (sum) named['prev'] = sum;
      const loops = part.map((_, j) => `for (var i = lane; i < uniforms.n${j}; i = i + REDUCE_LANES) { acc = acc + g${j}[i] * g${j}[i]; }`).join('\n    ');
      const next = runWgslReduction(backend, {
        key: `sum_squares_${part.length}_${sum ? 'acc' : 'first'}`,
        inputs: named,
        outputShape: [1],
        uniforms: part.map((t, j) => ({ name: `n${j}`, type: 'i32', value: t.shape.reduce((p, d) => p * d, 1) })),
        accumulate: loops,
        finish: sum ? 'total + prev[0]' : 'total',
      });
      if (sum) backend.disposeData(sum.dataId);
      sum = next;
    }
    return [sum];
  },
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
