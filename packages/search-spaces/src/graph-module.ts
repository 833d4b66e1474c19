import { bicubicUpsampleFilter, pixelShuffle, repeatChannels, tf, type ForwardContext, type Module } from '@quantnas/core-ops';
import type { ConvStep, EsaStep, GraphPlan, MixedStep, ResidualStep, Step } from './plan.js';

/** How each kind of trainable step becomes a module; the rest of the graph is shared code. */
/** The initial weights a fixed conv asks for, or undefined for the default initialisation. */
export function initialConvWeight(step: ConvStep): Float32Array | undefined {
  return step.init?.kind === 'bicubic' ? bicubicUpsampleFilter(step.inChannels, step.init.scale) : undefined;
}

export interface StepBuilders {
  mixed(step: MixedStep): Module;
  conv(step: ConvStep): Module;
  esa(step: EsaStep): Module;
  /** Wraps a residual body (which the returned module owns). */
  residual(step: ResidualStep, body: Module): Module;
}

type Runner = (env: ReadonlyMap<string, tf.Tensor4D>, ctx: ForwardContext) => tf.Tensor4D;

const get = (env: ReadonlyMap<string, tf.Tensor4D>, id: string): tf.Tensor4D => {
  const t = env.get(id);
  if (!t) throw new Error(`graph: tensor '${id}' is not computed yet`);
  return t;
};

/**
 * A module that runs a resolved graph: `input` is the tensor given to `apply`, each step's
 * tensor is named by its id, and the graph's output is returned. Intermediate tensors live until
 * the end of the forward pass (the tidy scope releases them; the backward pass needs them).
 */
export function buildGraph(graph: GraphPlan, builders: StepBuilders): Module {
  const owned: Module[] = [];
  const own = <M extends Module>(m: M): M => {
    owned.push(m);
    return m;
  };
  const runnerFor = (step: Step): Runner => {
    switch (step.kind) {
      case 'mixed':
      case 'conv':
      case 'esa': {
        const m = own(step.kind === 'mixed' ? builders.mixed(step) : step.kind === 'conv' ? builders.conv(step) : builders.esa(step));
        return (env, ctx) => m.apply(get(env, step.input), ctx);
      }
      case 'residual': {
        const body = buildGraph(step.body, builders);
        let m: Module;
        try {
          m = builders.residual(step, body);
        } catch (error) {
          body.dispose();
          throw error;
        }
        own(m);
        return (env, ctx) => m.apply(get(env, step.input), ctx);
      }
      case 'repeat': {
        const its = step.iterations.map((it) => own(buildGraph(it, builders)));
        return (env, ctx) => {
          const outs: tf.Tensor4D[] = [];
          let x = get(env, step.input);
          for (const it of its) outs.push((x = it.apply(x, ctx)));
          return step.emit === 'concat' ? tf.concat(outs, 3) : x;
        };
      }
      case 'add':
        return (env) => tf.addN(step.inputs.map((id) => get(env, id))) as tf.Tensor4D;
      case 'concat':
        return (env) =>
          tf.concat(
            step.inputs.map((id) => get(env, id)),
            3,
          );
      case 'pixel_shuffle':
        return (env) => pixelShuffle(get(env, step.input), step.scale);
      case 'repeat_channels':
        return (env) => repeatChannels(get(env, step.input), step.times);
    }
  };
  let runners: Runner[];
  try {
    runners = graph.steps.map(runnerFor);
  } catch (error) {
    for (const m of owned) m.dispose();
    throw error;
  }
  return {
    apply(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
      if (x.rank !== 4 || x.shape[3] !== graph.inputChannels) {
        throw new Error(`graph: expected an NHWC input with ${graph.inputChannels} channels, got shape [${x.shape.join(', ')}]`);
      }
      return tf.tidy(() => {
        const env = new Map<string, tf.Tensor4D>([['input', x]]);
        graph.steps.forEach((step, i) => env.set(step.id, runners[i]!(env, ctx)));
        return get(env, graph.output);
      });
    },
    variables() {
      const vars = new Map<string, tf.Variable>();
      for (const m of owned) {
        for (const [k, v] of m.variables()) {
          if (vars.has(k)) throw new Error(`graph: two variables are named '${k}'`);
          vars.set(k, v);
        }
      }
      return vars;
    },
    dispose() {
      for (const m of owned) m.dispose();
    },
  };
}
