import { describe, expect, it } from 'vitest';
import type { ModelArtifactHeader } from './artifact-header.js';
import { ArtifactError, decodeArtifact, encodeArtifact, type ModelArtifact } from './container.js';
import { validateArtifact } from './graph.js';
import { runReference } from './reference-engine.js';
import { syntheticRfdn } from './synthetic-model.js';
import { seeded } from './test-helpers.js';

const model = syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 1 });
type Mutable = { -readonly [K in keyof ModelArtifactHeader]: any };

/** The model with its header changed by `edit` (a deep copy). */
function edited(edit: (h: Mutable, layers: any[]) => void, blob = model.blob): ModelArtifact {
  const header = JSON.parse(JSON.stringify(model.header)) as Mutable;
  edit(header, header.layers);
  return { header, blob };
}
const conv = (layers: any[], n = 0) => layers.filter((l) => l.op === 'conv')[n];

describe('validateArtifact', () => {
  it('accepts the synthetic models', () => {
    expect(validateArtifact(model).layers).toHaveLength(model.header.layers.length);
  });

  const broken: [string, (h: Mutable, layers: any[]) => void, RegExp][] = [
    ['unknown op', (_, l) => (l[3].op = 'gelu'), /layer '.*': unknown op "gelu"/],
    ['unknown tensor', (_, l) => (l[2].inputs = ['nowhere']), /unknown tensor 'nowhere'/],
    ['use before produce', (_, l) => ([l[1], l[2]] = [l[2], l[1]]), /is used before a layer produces it|never used/],
    ['channel mismatch', (h, l) => (h.tensors[conv(l).output].channels += 1), /channels|bytes/],
    ['weights outside the blob', (_, l) => (conv(l).weights.offset = model.blob.length - 2), /weights bytes .* lie outside the \d+-byte blob/],
    ['weights of the wrong length', (_, l) => (conv(l).weights.byteLength -= 1), /weights has \d+ bytes, the shape needs \d+/],
    ['float input to a conv', (_, l) => (conv(l).inputs = [l[0].output]), /must be uint8 activation codes/],
    ['uint8 input to an add', (_, l) => (l.find((x) => x.op === 'add').inputs[0] = conv(l).inputs[0]), /must be float32|channels/],
    ['bad groups', (_, l) => (conv(l).groups = 5), /groups 5 must divide/],
    ['bad weight bits', (_, l) => (conv(l).weightBits = 3), /weightBits must be 8 or 4/],
    ['missing scales', (_, l) => delete conv(l).weightScales, /weightScales must be \{ offset, byteLength \}/],
    ['bad pixel shuffle', (_, l) => (l.find((x) => x.op === 'pixel_shuffle').factor = 3), /not a multiple of factor²|channels/],
    ['bad step', (h) => (h.tensors[Object.keys(h.tensors).find((k) => h.tensors[k].dtype === 'uint8')!].step = -1), /step must be a positive/],
    ['bad statistics tensor', (_, l) => (l.find((x) => x.op === 'adq_scale').statisticsOf = 'later'), /statisticsOf "later" is not an earlier tensor/],
    ['duplicate output', (_, l) => (l[2].output = l[1].output), /already produced/],
    ['wrong output size', (h) => (h.scale = 3), /output tensor .* is not 3 times/],
    ['grids that differ', (_, l) => (l.find((x) => x.op === 'bilinear_resize').sizeOf = l.find((x) => x.op === 'max_pool').output), /different spatial sizes/],
    ['no layers', (h) => (h.layers = []), /layers must be a non-empty array/],
    ['header not matching the blob', (h) => (h.blob.byteLength += 1), /header says/],
    ['not a number', (_, l) => (conv(l).stride = '1'), /stride must be an integer/],
  ];
  for (const [name, edit, message] of broken) {
    it(`rejects ${name} with an ArtifactError naming the problem`, () => {
      const bad = edited(edit);
      expect(() => validateArtifact(bad)).toThrow(ArtifactError);
      expect(() => validateArtifact(bad)).toThrow(message);
    });
  }

  it('rejects non-finite weight scales', () => {
    const blob = model.blob.slice();
    const ref = conv(model.header.layers as any[]).weightScales;
    new DataView(blob.buffer).setFloat32(ref.offset, Infinity, true);
    expect(() => validateArtifact({ header: model.header, blob })).toThrow(/weightScales\[0\] is not finite/);
  });
});

describe('damaged models never crash and never produce an image', () => {
  const image = { width: 16, height: 16, channels: 3 as const, data: new Uint8Array(16 * 16 * 3).fill(90) };
  const bytes = encodeArtifact(model.header, model.blob);
  const load = (b: Uint8Array) => validateArtifact(decodeArtifact(b));

  it('every truncation and random byte changes of the file', () => {
    for (let length = 0; length < bytes.length; length += 1 + (length >> 6)) expect(() => load(bytes.subarray(0, length))).toThrow(ArtifactError);
    const r = seeded(99);
    for (let i = 0; i < 500; i++) {
      const bad = bytes.slice();
      for (let k = r.int(1, 3); k > 0; k--) bad[r.int(0, bad.length - 1)] ^= r.int(1, 255);
      expect(() => load(bad)).toThrow(ArtifactError);
    }
  });

  it('random header edits with valid checksums: an ArtifactError, or a model that still runs', () => {
    const r = seeded(7);
    const replacements = [-1, 0, 1, 2, 3.5, 1e9, -1e-9, NaN, 'x', null, true, [], {}, [1, 1]];
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const header = JSON.parse(JSON.stringify(model.header));
      // Pick a random value in the header (walk down from the root) and replace or delete it.
      let node: any = header;
      for (let depth = 0; depth < 6; depth++) {
        const keys = Object.keys(node);
        const key = keys[r.int(0, keys.length - 1)]!;
        const child = node[key];
        if (typeof child === 'object' && child !== null && r.next() < 0.8 && Object.keys(child).length > 0) {
          node = child;
          continue;
        }
        if (r.next() < 0.2 && !Array.isArray(node)) delete node[key];
        else node[key] = replacements[r.int(0, replacements.length - 1)];
        break;
      }
      let graph;
      try {
        graph = load(encodeArtifact(header, model.blob));
      } catch (error) {
        expect(error, String(error)).toBeInstanceOf(ArtifactError);
        rejected++;
        continue;
      }
      // Still a valid model (an edit of metadata, a scale, a bias...): it runs or refuses the image size.
      try {
        expect(runReference(graph, image).data.length).toBeGreaterThan(0);
      } catch (error) {
        expect(String(error)).toMatch(/too small/);
      }
    }
    expect(rejected).toBeGreaterThan(150);
  });
});
