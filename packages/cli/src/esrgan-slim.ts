/**
 * UpscalerJS's ESRGAN Slim models (`@upscalerjs/esrgan-slim`, a devDependency) loaded from the
 * installed package's files with tfjs's in-memory IO handler: no network, and the project's one
 * tfjs instance (through @quantnas/core-ops), not the package's own tfjs peer.
 *
 * The package's rdn models (all of ESRGAN Slim: "rdn-C1-D2-G4-G064-T10") take RGB in [0, 255]
 * and return RGB in [0, 255] (`inputRange`/`outputRange` of its model definition). The output is
 * clipped to [0, 255] and rounded half to even to bytes, as our engines round.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { DataError } from '@quantnas/data';
import { initBackend, tf } from '@quantnas/core-ops';
import type { RgbImage } from '@quantnas/runtime';

export const ESRGAN_SLIM_PACKAGE = '@upscalerjs/esrgan-slim';

/** Where a model's files are. */
export interface EsrganSlimFiles {
  /** The model.json (tfjs layers or graph model). */
  readonly modelJson: string;
  /** The package version, when the files come from the installed package. */
  readonly version?: string;
}

/** Why the package cannot be used, or undefined when it is installed. */
export function esrganSlimMissing(): string | undefined {
  return packageDir() ? undefined : `${ESRGAN_SLIM_PACKAGE} is not installed (npm install -D -w packages/cli ${ESRGAN_SLIM_PACKAGE})`;
}

/** The installed package's folder: its exports map hides package.json, so look in node_modules. */
function packageDir(): string | undefined {
  const require = createRequire(import.meta.url);
  for (const base of require.resolve.paths(ESRGAN_SLIM_PACKAGE) ?? []) {
    const dir = join(base, ESRGAN_SLIM_PACKAGE);
    if (existsSync(join(dir, 'package.json'))) return dir;
  }
  return undefined;
}

/** The x`scale` model of the installed package (2, 3, 4 or 8), or `explicit` (a model.json). */
export async function findEsrganSlim(scale: number, explicit?: string): Promise<EsrganSlimFiles> {
  if (explicit !== undefined) {
    const modelJson = resolve(explicit);
    if (!existsSync(modelJson)) throw new DataError(`${explicit}: no such file`, explicit);
    return { modelJson };
  }
  const dir = packageDir();
  if (!dir) throw new DataError(esrganSlimMissing()!);
  const { version } = JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string };
  const modelJson = join(dir, 'models', `x${scale}`, 'model.json');
  if (!existsSync(modelJson)) {
    throw new DataError(`${ESRGAN_SLIM_PACKAGE} ${version} has no x${scale} model (looked for ${modelJson}); it ships x2, x3, x4 and x8`, modelJson);
  }
  return { modelJson, version };
}

interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
  [key: string]: unknown;
}

/** A loaded model: `upscale` maps RGB bytes to RGB bytes. */
export interface EsrganSlim {
  readonly files: EsrganSlimFiles;
  readonly format: 'layers-model' | 'graph-model';
  /** Trainable and non-trainable weights (layers models), or the weight values (graph models). */
  readonly params: number;
  upscale(image: RgbImage): Promise<RgbImage>;
  dispose(): void;
}

/**
 * Loads a tfjs model.json and its weight shards from disk on the wasm backend. Problems with the
 * files (missing shard, wrong size, not a tfjs model) are DataErrors naming the file.
 */
export async function loadEsrganSlim(files: EsrganSlimFiles): Promise<EsrganSlim> {
  await initBackend('wasm');
  const { modelJson } = files;
  let json: ModelJson;
  try {
    json = JSON.parse(await readFile(modelJson, 'utf8')) as ModelJson;
  } catch (error) {
    throw new DataError(`${modelJson}: cannot read the model: ${(error as Error).message}`, modelJson);
  }
  const format = json.format === 'graph-model' ? 'graph-model' : 'layers-model';
  if (!json.modelTopology || !Array.isArray(json.weightsManifest)) {
    throw new DataError(`${modelJson}: not a tfjs model (no modelTopology or weightsManifest)`, modelJson);
  }
  const weightSpecs = json.weightsManifest.flatMap((group) => group.weights);
  const shards: Uint8Array[] = [];
  for (const group of json.weightsManifest) {
    for (const path of group.paths) {
      const file = join(dirname(modelJson), path);
      try {
        shards.push(await readFile(file));
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        throw new DataError(`${file}: cannot read the weights: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`, file);
      }
    }
  }
  const total = shards.reduce((n, s) => n + s.byteLength, 0);
  const weightData = new Uint8Array(total);
  let at = 0;
  for (const s of shards) {
    weightData.set(s, at);
    at += s.byteLength;
  }
  const artifacts: tf.io.ModelArtifacts = {
    modelTopology: json.modelTopology as tf.io.ModelArtifacts['modelTopology'],
    weightSpecs,
    weightData: weightData.buffer,
    format: json.format as string | undefined,
  };
  const handler = tf.io.fromMemory(artifacts);
  let predict: (x: tf.Tensor4D) => tf.Tensor;
  let params: number;
  let disposeModel: () => void;
  try {
    if (format === 'graph-model') {
      const model = await tf.loadGraphModel(handler);
      predict = (x) => model.predict(x) as tf.Tensor;
      params = Object.values(model.weights).reduce((n, ts) => n + ts.reduce((m, t) => m + t.size, 0), 0);
      disposeModel = () => model.dispose();
    } else {
      const model = await tf.loadLayersModel(handler);
      predict = (x) => model.predict(x) as tf.Tensor;
      params = model.countParams();
      disposeModel = () => model.dispose();
    }
  } catch (error) {
    throw new DataError(`${modelJson}: tfjs cannot load the model: ${(error as Error).message.split('\n')[0]}`, modelJson);
  }
  return {
    files,
    format,
    params,
    async upscale(image: RgbImage): Promise<RgbImage> {
      const { width, height, data } = image;
      const y = tf.tidy(() => {
        const pixels = new Float32Array(data.length);
        for (let i = 0; i < data.length; i++) pixels[i] = data[i]!;
        const x = tf.tensor4d(pixels, [1, height, width, 3]);
        return tf.clipByValue(predict(x), 0, 255);
      });
      try {
        const [, h, w, c] = y.shape as [number, number, number, number];
        if (c !== 3 || h % height !== 0 || w % width !== 0 || h / height !== w / width) {
          throw new DataError(`${modelJson}: the model returned ${w}×${h}×${c} for a ${width}×${height} RGB image`, modelJson);
        }
        const values = (await y.data()) as Float32Array;
        // Plain loop: TypedArray.from with a map function is an order of magnitude slower.
        const bytes = new Uint8Array(values.length);
        for (let i = 0; i < values.length; i++) bytes[i] = roundHalfEvenByte(values[i]!);
        return { width: w, height: h, channels: 3, data: bytes };
      } finally {
        y.dispose();
      }
    },
    dispose: () => disposeModel(),
  };
}

/** A value already clipped to [0, 255], rounded half to even. */
function roundHalfEvenByte(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  return d < 0.5 ? f : d > 0.5 ? f + 1 : f % 2 === 0 ? f : f + 1;
}
