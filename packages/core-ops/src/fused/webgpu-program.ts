import { tf } from '../tf.js';

// WGSL programs for fused kernels on tfjs-backend-webgpu: the program objects its
// `runWebGPUProgram` compiles (the backend adds the bindings, the `uniforms` struct, `main`'s entry
// point and `setOutputAtIndex`), built here structurally so that core-ops needs no import of the
// backend. Inputs are bound as `array<f32>` under their names in `inputs`.

type TensorInfo = tf.TensorInfo;

/** One scalar uniform: its WGSL name, type and value. */
export interface WgslUniform {
  readonly name: string;
  readonly type: 'f32' | 'i32' | 'u32';
  readonly value: number;
}

/** What every WGSL program of a fused kernel has. */
interface WgslProgramParts {
  /** Identifies the shader code (not the uniforms' values): one compiled pipeline per key. */
  readonly key: string;
  readonly inputs: Readonly<Record<string, TensorInfo>>;
  readonly outputShape: readonly number[];
  readonly uniforms?: readonly WgslUniform[];
  /** Functions placed before `main`. */
  readonly helpers?: string;
}

export interface WgslElementwise extends WgslProgramParts {
  /** The body run for each flat output `index` (i32) below the output's size; writes with `setOutputAtIndex`. */
  readonly body: string;
}

/** One workgroup per output element, `outIndex` (i32) its index. */
export interface WgslReduction extends WgslProgramParts {
  /**
   * Adds to `acc` (f32) this thread's share of output `outIndex`: thread `lane` (i32) of `REDUCE_LANES`.
   * The workgroup's shares are then summed into `total` (f32) and `finish`, an expression of
   * `total` (default: total itself), written.
   */
  readonly accumulate: string;
  readonly finish?: string;
  /** How shares combine: `sum` (default) or `max`. */
  readonly combine?: 'sum' | 'max';
  /** `acc`'s initial value, an expression (default 0.0; a `max` needs an element, or a lowest value). */
  readonly init?: string;
}

export interface WebGpuBackendLike {
  runWebGPUProgram(program: object, inputs: TensorInfo[], dtype: 'float32', uniforms?: { type: 'float32' | 'int32' | 'uint32'; data: number[] }[]): TensorInfo;
  disposeData(dataId: object): boolean;
}

const WORKGROUP = 128;
const REDUCE_LANES = 64;
const uniformType = { f32: 'float32', i32: 'int32', u32: 'uint32' } as const;
const size = (shape: readonly number[]) => shape.reduce((p, d) => p * d, 1);

function run(
  backend: WebGpuBackendLike,
  spec: { key: string; inputs: Readonly<Record<string, TensorInfo>>; outputShape: readonly number[]; uniforms?: readonly WgslUniform[] },
  workgroupSize: number,
  dispatchX: number,
  code: string,
): TensorInfo {
  const names = Object.keys(spec.inputs);
  const uniforms = spec.uniforms ?? [];
  const program = {
    variableNames: names,
    outputShape: [...spec.outputShape],
    shaderKey: `quantnas_${spec.key}`,
    dispatchLayout: { x: spec.outputShape.map((_, i) => i) },
    dispatch: [Math.max(1, dispatchX), 1, 1],
    workgroupSize: [workgroupSize, 1, 1],
    size: true,
    ...(uniforms.length ? { uniforms: uniforms.map((u) => `${u.name} : ${u.type},`).join(' ') } : {}),
    getUserCode: () => code,
  };
  return backend.runWebGPUProgram(
    program,
    names.map((n) => spec.inputs[n]!),
    'float32',
    uniforms.map((u) => ({ type: uniformType[u.type], data: [u.value] })),
  );
}

/** Runs one elementwise WGSL program: one invocation per output element. */
export function runWgslElementwise(backend: WebGpuBackendLike, spec: WgslElementwise): TensorInfo {
  const code = `
${spec.helpers ?? ''}
fn main(index : i32) {
  if (index < uniforms.size) {
    ${spec.body}
  }
}`;
  return run(backend, spec, WORKGROUP, Math.ceil(size(spec.outputShape) / WORKGROUP), code);
}

/** Runs one reduction: a workgroup per output element, strided loops and a shared-memory tree (sum or max). */
export function runWgslReduction(backend: WebGpuBackendLike, spec: WgslReduction): TensorInfo {
  const code = `
const REDUCE_LANES : i32 = ${REDUCE_LANES};
var<workgroup> reduceShared : array<f32, ${REDUCE_LANES}>;
${spec.helpers ?? ''}
fn main(index : i32) {
  let outIndex = i32(workgroupId.x);
  let lane = i32(localId.x);
  var acc = ${spec.init ?? '0.0'};
  if (outIndex < uniforms.size) {
    ${spec.accumulate}
  }
  reduceShared[lane] = acc;
  workgroupBarrier();
  for (var stride = ${REDUCE_LANES / 2}; stride > 0; stride = stride / 2) {
    if (lane < stride) {
      reduceShared[lane] = ${spec.combine === 'max' ? 'max(reduceShared[lane], reduceShared[lane + stride])' : 'reduceShared[lane] + reduceShared[lane + stride]'};
    }
    workgroupBarrier();
  }
  if (lane == 0 && outIndex < uniforms.size) {
    let total = reduceShared[0];
    setOutputAtIndex(outIndex, ${spec.finish ?? 'total'});
  }
}`;
  return run(backend, spec, REDUCE_LANES, size(spec.outputShape), code);
}
