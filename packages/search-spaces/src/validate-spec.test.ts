import { describe, expect, it } from 'vitest';
import { getSpace, SPACE_IDS } from './registry.js';
import { resolveSpace } from './resolve-space.js';
import { SpecError } from './spec-error.js';
import { copy, espcn } from './test-helpers.js';
import { validateSpec } from './validate-spec.js';

type Mutation = (spec: any) => void;

/** Applies a mutation to a copy of the example space and returns the validation message. */
function problem(mutate: Mutation, base: unknown = espcn): string {
  const spec = copy(base);
  mutate(spec);
  try {
    validateSpec(spec, 'bad.json');
  } catch (error) {
    expect(error).toBeInstanceOf(SpecError);
    return (error as Error).message;
  }
  throw new Error('the document validated');
}

describe('validateSpec', () => {
  it.each([...SPACE_IDS])('accepts the shipped %s space', (id) => {
    expect(validateSpec(copy(getSpace(id)))).toEqual(getSpace(id));
  });

  it('accepts the user-style example', () => {
    expect(validateSpec(copy(espcn)).id).toBe('my-espcn');
  });

  it.each<[string, Mutation, string]>([
    ['not an object', () => {}, ''],
    ['wrong schema version', (s) => (s.schemaVersion = 2), '$.schemaVersion: must be 1, got 2'],
    ['unknown primitive', (s) => (s.candidates.shrink[1] = 'sep_conv_3x3'), "$.candidates.shrink[1]: unknown op 'sep_conv_3x3'"],
    ['unknown primitive inline', (s) => (s.nodes[0].candidates = ['simple_7x7']), "$.nodes[0].candidates[0]: unknown op 'simple_7x7'"],
    ['empty candidate list', (s) => (s.candidates.feature = []), '$.candidates.feature: the candidate list is empty'],
    ['repeated candidate', (s) => s.candidates.feature.push('simple_3x3'), '$.candidates.feature[2]: "simple_3x3" is listed twice'],
    ['bad bits', (s) => (s.bits = [4, 9]), '$.bits[1]: bit-width 9 is not supported'],
    ['empty bits', (s) => (s.bits = []), '$.bits: the bit-width list is empty'],
    ['bad node bits', (s) => (s.nodes[1].bits = [1]), '$.nodes[1].bits[0]: bit-width 1 is not supported'],
    ['bad fixed bits', (s) => (s.fixedBits = 12), '$.fixedBits: bit-width 12 is not supported'],
    ['unknown node kind', (s) => (s.nodes[1].kind = 'sepconv'), '$.nodes[1].kind: unknown node kind "sepconv"'],
    ['misspelt key', (s) => (s.nodes[3].inputs = ['refine']), '$.nodes[3]: Unrecognized key: "inputs"'],
    ['bad expression', (s) => (s.nodes[1].out = 'C/*2'), "$.nodes[1].out: channel expression 'C/*2': unexpected '*'"],
    ['unknown variable', (s) => (s.nodes[1].out = 'K/2'), "$.nodes[1].out: channel expression 'K/2': unknown variable 'K'"],
    ['even kernel', (s) => (s.nodes[3].kernel = 2), '$.nodes[3].kernel: must be odd'],
    ['unknown conv init', (s) => (s.nodes[3].init = 'zeros'), '$.nodes[3].init'],
    [
      'bicubic init on a conv that is not an upscaling one',
      (s) => (s.nodes[3].init = 'bicubic'),
      '$.nodes[3].init: bicubic initialisation needs in = groups and out = in·s² with a 5×5 kernel, got 8 → 27, 1 group(s), 3×3',
    ],
    ['frozen conv without an init', (s) => (s.nodes[3].frozen = true), '$.nodes[3].frozen: a frozen conv needs an init (it would keep random weights)'],
    [
      'baseline naming no searchable node',
      (s) => (s.baseline = { project: 'simple_3x3' }),
      "$.baseline.project: 'project' is not the id of a searchable (mixed) node",
    ],
    ['baseline op outside the candidates', (s) => (s.baseline = { shrink: 'simple_5x5' }), "$.baseline.shrink: 'simple_5x5' is not a candidate of 'shrink'"],
    ['duplicate id', (s) => (s.nodes[1].id = 'feature'), "$.nodes[1].id: duplicate id 'feature' (also at $.nodes[0])"],
    [
      'duplicate block name across a residual body',
      (s) => (s.nodes[2].body.nodes[0].id = 'shrink'),
      "$.nodes[2].body.nodes[0].id: block name 'shrink' is used twice (also at $.nodes[1]",
    ],
    ['reserved id', (s) => (s.nodes[0].id = 'input'), "$.nodes[0].id: 'input' is reserved"],
    ['unknown tensor', (s) => (s.nodes[1].input = 'featur'), "$.nodes[1].input: unknown tensor 'featur'"],
    ['self reference (cycle)', (s) => (s.nodes[1].input = 'shrink'), "$.nodes[1].input: 'shrink' refers to the node's own output (a cycle)"],
    ['reference to a later node (cycle or wrong order)', (s) => (s.nodes[0].input = 'shrink'), "$.nodes[0].input: 'shrink' is defined later, at $.nodes[1]"],
    [
      'a body reaching outside its scope',
      (s) => (s.nodes[2].body.nodes[0].input = 'feature'),
      "$.nodes[2].body.nodes[0].input: unknown tensor 'feature' (a body sees only its own input",
    ],
    ['conv inChannels disagree with its input', (s) => (s.nodes[3].in = 'C'), "$.nodes[3].in: in is 16 but its input 'refine' has 8 channels"],
    ['mixed inChannels disagree with its input', (s) => (s.nodes[1].in = 3), "$.nodes[1].in: in is 3 but its input 'feature' has 16 channels"],
    [
      'add of tensors with different channels',
      (s) => s.nodes.splice(2, 0, { id: 'sum', kind: 'add', inputs: ['feature', 'shrink'] }),
      "$.nodes[2].inputs[1]: add of tensors with different channels: 'feature' has 16, 'shrink' has 8",
    ],
    [
      'a candidate that cannot take the channels',
      (s) => s.candidates.shrink.push('skip_connect'),
      '$.nodes[1].candidates: skip_connect cannot map 16 → 8 channels',
    ],
    [
      'grouped candidate with indivisible channels',
      (s) => (s.nodes[0].candidates = ['simple_3x3', 'simple_3x3_grouped_2']),
      '$.nodes[0].candidates[1]: simple_3x3_grouped_2 cannot map 3 → 16 channels',
    ],
    ['unknown candidate list', (s) => (s.nodes[1].candidates = 'shrinks'), "$.nodes[1].candidates: unknown candidate list 'shrinks'"],
    [
      'residual body that changes channels',
      (s) => (s.nodes[2].body.nodes[0].out = 'C'),
      "$.nodes[2].body.output: a residual body must keep its input's shape: 8 channels (LR) in, 16 (LR) out",
    ],
    ['pixel shuffle of indivisible channels', (s) => (s.nodes[3].out = 10), "$.nodes[4].input: 'project' has 10 channels, not divisible by s² = 9"],
    ['output not an image', (s) => (s.nodes[3].out = '6*s*s'), "$.output: the output 'up' has 6 channels; the SR image has 3"],
    ['unknown output', (s) => (s.output = 'upp'), "$.output: unknown tensor 'upp'"],
    [
      'a node that does not reach the output',
      (s) => s.nodes.splice(2, 0, { id: 'dead', kind: 'mixed', input: 'shrink', in: 'C/2', out: 'C/2', candidates: 'shrink' }),
      "$.nodes[2]: node 'dead' does not contribute to the output 'up'",
    ],
    [
      'α group with different candidates',
      (s) => {
        s.nodes[1].alphaGroup = 'g';
        s.nodes[2].body.nodes[0].alphaGroup = 'g';
      },
      "$.nodes[2].body.nodes[0].candidates: alphaGroup 'g' shares α with $.nodes[1]",
    ],
  ])('rejects %s with its JSON path', (_, mutate, message) => {
    if (message === '') {
      expect(() => validateSpec([], 'bad.json')).toThrow('bad.json: search space $: must be a JSON object');
      return;
    }
    expect(problem(mutate)).toContain(`bad.json: search space ${message}`);
  });

  it('checks nested repeat bodies of the shipped spaces', () => {
    expect(problem((s) => (s.nodes[1].body.nodes[0].body.nodes[4].out = 'C/2'), getSpace('rfdn'))).toContain(
      "$.nodes[1].body.nodes[0].body.nodes[5].inputs[1]: add of tensors with different channels: 'x1' has 48, 'body1' has 24",
    );
  });

  it('re-checks at other options: an rfdn width the grouped ops cannot take fails with the path', () => {
    expect(() => resolveSpace(getSpace('rfdn'), { channels: 18 })).toThrow(
      '$.nodes[1].body.nodes[0].body.nodes[0].candidates: simple_1x1_grouped_2 cannot map 18 → 9 channels',
    );
    expect(() => resolveSpace(getSpace('rfdn'), { cells: 0 })).toThrow('$.cells: option cells must be an integer from 1 to 64, got 0');
  });

  it('instantiates one document at another width, scale and cell count', () => {
    const plan = resolveSpace(getSpace('rfdn'), { channels: 12, scale: 2, cells: 2 });
    expect(plan.blocks.map((b) => b.name)).toEqual([
      ...[0, 1].flatMap((i) => ['skip0', 'body0', 'skip1', 'body1', 'skip2', 'body2', 'body3'].map((b) => `cell${i}.${b}`)),
      'upsample',
      'tail',
    ]);
    const upsample = plan.blocks.find((b) => b.name === 'upsample')!;
    expect([upsample.inChannels, upsample.outChannels, upsample.grid]).toEqual([12, 12, 'lr']);
    const tail = plan.blocks.find((b) => b.name === 'tail')!;
    expect([tail.inChannels, tail.outChannels, tail.grid]).toEqual([3, 3, 'hr']);
    expect(plan.groups).toHaveLength(16);
  });

  it('shares α across the basic cells', () => {
    const plan = resolveSpace(getSpace('basic'));
    expect(plan.blocks).toHaveLength(5 + 3 * 3);
    expect(plan.groups.map((g) => [g.id, g.blocks.length, g.pairs.length])).toEqual([
      ['head0', 1, 8],
      ['head1', 1, 8],
      ['skip', 3, 6],
      ['body1', 3, 8],
      ['body2', 3, 8],
      ['upsample', 1, 8],
      ['tail1', 1, 10],
      ['tail2', 1, 10],
    ]);
  });

  describe('limits: checked before anything of that size is built, each naming its JSON path', () => {
    it.each<[string, Mutation, string]>([
      ['a huge width', (s) => (s.channels = 1e9), '$.channels: channels must be at most 1024'],
      ['a huge scale', (s) => (s.scale = 1000), '$.scale: scale must be at most 16'],
      ['many cells', (s) => (s.cells = 1000), '$.cells: cells must be at most 64'],
      ['many image channels', (s) => (s.imageChannels = 100), '$.imageChannels: imageChannels must be at most 4'],
      ['a huge kernel', (s) => (s.nodes.find((n: any) => n.kind === 'conv').kernel = 100001), 'kernel: a kernel edge must be at most 31'],
    ])('%s', (_name, mutate, message) => {
      expect(problem(mutate)).toContain(message);
    });

    it('repeat.times of 1e9 fails at once, before unrolling', () => {
      const started = performance.now();
      const message = problem((s) => {
        const i = s.nodes.findIndex((n: any) => n.kind === 'repeat');
        s.nodes[i].times = 1e9;
      }, getSpace('rfdn'));
      expect(message).toMatch(/\$\.nodes\[\d+\]\.times: 1000000000 is 1000000000 at C = \d+, s = \d+, N = \d+, over the limit of 256$/);
      expect(performance.now() - started).toBeLessThan(1000);
    });

    it('a channel expression over the tensor limit names its field', () => {
      expect(problem((s) => (s.nodes[0].out = '100000*C'))).toMatch(
        /^bad\.json: search space \$\.nodes\[0\]\.out: "100000\*C" is \d+ at C = \d+, .*over the limit of 8192$/,
      );
    });

    it('a space too large to build names the node where its weights pass the limit', () => {
      const message = problem((s) => {
        s.channels = 1024;
        s.nodes.find((n: any) => n.kind === 'conv').kernel = 31;
      });
      expect(message).toMatch(/passes 20000000 conv weights here/);
    });

    it('nested repeats are bounded by the node count', () => {
      const started = performance.now();
      const message = problem((s) => {
        // 200 × 200 weightless adds in place of the residual's body.
        const add = { nodes: [{ kind: 'add', id: 'twice', inputs: ['input', 'input'] }], output: 'twice' };
        const inner = { nodes: [{ kind: 'repeat', id: 'deep', input: 'input', times: 200, body: add }], output: 'deep' };
        s.nodes[2].body = { nodes: [{ kind: 'repeat', id: 'outer', input: 'input', times: 200, body: inner }], output: 'outer' };
      });
      expect(message).toMatch(
        /^bad\.json: search space \$\.nodes\[2\]\.body\.nodes\[0\]\.body\.nodes\[0\]\.body\.nodes\[0\]: the network passes 20000 nodes here/,
      );
      expect(performance.now() - started).toBeLessThan(2000);
    });

    it('resolving at options beyond the limits names the option', () => {
      expect(() => resolveSpace(getSpace('rfdn'), { channels: 8000 })).toThrow('$.channels: option channels must be an integer from 1 to 1024, got 8000');
      expect(() => resolveSpace(getSpace('rfdn'), { scale: 1000 })).toThrow('$.scale: option scale must be an integer from 1 to 16, got 1000');
    });

    it("refuses a '__proto__' key instead of dropping it", () => {
      const doc = JSON.parse(JSON.stringify(espcn).replace('"candidates":{', '"candidates":{"__proto__":["simple_3x3"],'));
      expect(() => validateSpec(doc, 'p.json')).toThrow("p.json: search space $.candidates.__proto__: the key '__proto__' is not allowed");
    });
  });
});
