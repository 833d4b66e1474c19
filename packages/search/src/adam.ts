import { fusedKernelsAvailable, tf, variableFrom } from '@quantnas/core-ops';
import { fusedAdamUpdate, fusedSumSquares } from './fused-adam.js';

export interface AdamOptions {
  readonly beta1: number;
  readonly beta2: number;
  /** Added to √v̂ (PyTorch's placement); default 1e-8. */
  readonly epsilon?: number;
  /**
   * L2 regularisation as PyTorch's `Adam(weight_decay=…)` applies it: `weightDecay·θ` is added to
   * the gradient before the moments are updated (not AdamW's decoupled decay).
   */
  readonly weightDecay?: number;
  /** `fused` (default): one kernel per variable where the backend has it; `reference`: composed tfjs ops. */
  readonly kernels?: 'fused' | 'reference';
}

/**
 * Adam with its state in the open, so that checkpoints can save and restore it exactly: the first
 * and second moments per variable name and the step count. Variables are addressed by name.
 */
export interface Adam {
  readonly options: Required<AdamOptions>;
  /** Steps taken (the t of the bias correction). */
  readonly steps: number;
  /** Applies one update with learning rate `lr`; takes ownership of nothing (the caller disposes `grads`). */
  apply(variables: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number): void;
  /**
   * The same after scaling the gradients to a global L2 norm of at most `maxNorm` (see
   * `clipByGlobalNorm`); returns the norm before clipping (the caller disposes it).
   */
  applyClipped(variables: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number, maxNorm: number): tf.Scalar;
  /** The moments as `${name}.m` / `${name}.v`, for a checkpoint (not copies: read before the next step). */
  stateTensors(): Map<string, tf.Tensor>;
  /** Restores the step count and moments saved by `stateTensors`; the values are copied. */
  load(steps: number, tensors: ReadonlyMap<string, tf.Tensor>): void;
  dispose(): void;
}

export function createAdam(options: AdamOptions): Adam {
  const opts: Required<AdamOptions> = { epsilon: 1e-8, weightDecay: 0, kernels: 'fused', ...options };
  const fused = () => opts.kernels === 'fused' && fusedKernelsAvailable();
  const m = new Map<string, tf.Variable>();
  const v = new Map<string, tf.Variable>();
  let steps = 0;
  const slot = (store: Map<string, tf.Variable>, name: string, like: tf.Tensor): tf.Variable => {
    let s = store.get(name);
    if (!s) {
      s = variableFrom(tf.zerosLike(like), false);
      store.set(name, s);
    }
    return s;
  };
  /** θ for a gradient's name, and its moments (created at zero on first use). */
  const stateOf = (variables: ReadonlyMap<string, tf.Variable>, name: string) => {
    const theta = variables.get(name);
    if (!theta) throw new Error(`adam: no variable '${name}' for its gradient`);
    return { theta, mv: slot(m, name, theta), vv: slot(v, name, theta) };
  };
  /** The fused update of every variable, its gradient scaled to `maxNorm` (0: not clipped). */
  const applyFused = (variables: ReadonlyMap<string, tf.Variable>, grads: ReadonlyMap<string, tf.Tensor>, lr: number, normSq: tf.Tensor, maxNorm: number) => {
    steps++;
    const attrs = { ...opts, lr, c1: 1 - opts.beta1 ** steps, c2: 1 - opts.beta2 ** steps, maxNorm };
    for (const [name, g] of grads) {
      const { theta, mv, vv } = stateOf(variables, name);
      tf.tidy(() => {
        const [t1, m1, v1] = fusedAdamUpdate(theta, g, mv, vv, normSq, attrs);
        mv.assign(m1);
        vv.assign(v1);
        theta.assign(t1);
      });
    }
  };
  const adam: Adam = {
    options: opts,
    get steps() {
      return steps;
    },
    applyClipped(variables, grads, lr, maxNorm) {
      if (!fused()) {
        const clipped = clipByGlobalNorm(grads, maxNorm);
        adam.apply(variables, clipped.grads, lr);
        tf.dispose([...clipped.grads.values()]);
        return clipped.norm;
      }
      const normSq = fusedSumSquares([...grads.values()]);
      applyFused(variables, grads, lr, normSq, maxNorm);
      const norm = tf.tidy(() => tf.reshape(tf.sqrt(normSq), []) as tf.Scalar);
      normSq.dispose();
      return norm;
    },
    apply(variables, grads, lr) {
      if (fused()) {
        const none = tf.zeros([1]);
        applyFused(variables, grads, lr, none, 0);
        none.dispose();
        return;
      }
      steps++;
      const { beta1, beta2, epsilon, weightDecay } = opts;
      const c1 = 1 - beta1 ** steps;
      const c2 = 1 - beta2 ** steps;
      for (const [name, g0] of grads) {
        const { theta, mv, vv } = stateOf(variables, name);
        tf.tidy(() => {
          const g = weightDecay === 0 ? g0 : tf.add(g0, tf.mul(theta, weightDecay));
          const m1 = tf.add(tf.mul(mv, beta1), tf.mul(g, 1 - beta1));
          const v1 = tf.add(tf.mul(vv, beta2), tf.mul(tf.square(g), 1 - beta2));
          mv.assign(m1);
          vv.assign(v1);
          const update = tf.div(tf.div(m1, c1), tf.add(tf.sqrt(tf.div(v1, c2)), epsilon));
          theta.assign(tf.sub(theta, tf.mul(update, lr)));
        });
      }
    },
    stateTensors() {
      const out = new Map<string, tf.Tensor>();
      for (const [name, t] of m) out.set(`${name}.m`, t);
      for (const [name, t] of v) out.set(`${name}.v`, t);
      return out;
    },
    load(stepCount, tensors) {
      for (const t of [...m.values(), ...v.values()]) t.dispose();
      m.clear();
      v.clear();
      steps = stepCount;
      for (const [key, t] of tensors) {
        const store = key.endsWith('.m') ? m : key.endsWith('.v') ? v : undefined;
        if (!store) throw new Error(`adam: unexpected state tensor '${key}'`);
        store.set(key.slice(0, -2), variableFrom(tf.clone(t), false));
      }
    },
    dispose() {
      for (const t of [...m.values(), ...v.values()]) t.dispose();
      m.clear();
      v.clear();
    },
  };
  return adam;
}

/**
 * Scales the gradients so that their global L2 norm is at most `maxNorm` (PyTorch's
 * `clip_grad_norm_`, including its 1e-6 in the denominator). Returns new tensors and the norm
 * before clipping, as a scalar tensor; the caller disposes both.
 */
export function clipByGlobalNorm(grads: ReadonlyMap<string, tf.Tensor>, maxNorm: number): { grads: Map<string, tf.Tensor>; norm: tf.Scalar } {
  const norm = tf.tidy(() => tf.sqrt(tf.addN([...grads.values()].map((g) => tf.sum(tf.square(g))))) as tf.Scalar);
  const coef = tf.tidy(() => tf.minimum(tf.div(maxNorm, tf.add(norm, 1e-6)), 1));
  const out = new Map<string, tf.Tensor>();
  for (const [name, g] of grads) out.set(name, tf.mul(g, coef));
  coef.dispose();
  return { grads: out, norm };
}
