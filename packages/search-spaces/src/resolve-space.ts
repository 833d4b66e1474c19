import { parsePrimitive, primitiveConvs, type PrimitiveId } from '@quantnas/core-ops';
import { parseBitList, type BitWidth } from '@quantnas/quant';
import { evalChannelExpr, type ChannelEnv, type ChannelExpr } from './channel-expr.js';
import type { AlphaGroupPlan, GraphPlan, Grid, MixedStep, ResolveOptions, SpacePlan, Step } from './plan.js';
import type { GraphSpec, NodeSpec, SearchSpaceSpec } from './spec.js';
import { SpecError } from './spec-error.js';
import { SPACE_LIMITS } from './limits.js';

const INPUT = 'input';

interface Tensor {
  readonly channels: number;
  readonly grid: Grid;
}

interface Context {
  readonly spec: SearchSpaceSpec;
  readonly env: ChannelEnv;
  readonly bits: readonly BitWidth[] | undefined;
  readonly source: string | undefined;
  /** Global block name → JSON path of the node that took it. */
  readonly names: Map<string, string>;
  readonly blocks: MixedStep[];
  /** Resolved nodes and conv weights so far, bounded by SPACE_LIMITS. */
  readonly totals: { steps: number; weights: number };
}

/**
 * The semantic half of validation, and the instantiation of a document at given options: every
 * reference resolves to an earlier tensor of the same graph, channels agree (conv/mixed inputs,
 * adds, residual bodies, ESA, pixel shuffle), each candidate can take its block's channels, ids
 * are unique, α groups are consistent and every node contributes to the output. Errors are
 * `SpecError`s naming the JSON path of the node field at fault.
 */
export function resolveSpace(spec: SearchSpaceSpec, options: ResolveOptions = {}, source?: string): SpacePlan {
  const fail = (path: string, problem: string): never => {
    throw new SpecError(path, problem, source);
  };
  const option = (key: 'channels' | 'scale' | 'cells', fallback: number): number => {
    const v = options[key] ?? fallback;
    const max = SPACE_LIMITS[key];
    if (!Number.isInteger(v) || v < 1 || v > max) fail(`$.${key}`, `option ${key} must be an integer from 1 to ${max}, got ${v}`);
    return v;
  };
  const channels = option('channels', spec.channels);
  const scale = option('scale', spec.scale);
  const cells = option('cells', spec.cells ?? 1);
  let bits: BitWidth[] | undefined;
  if (options.bits) {
    try {
      bits = parseBitList(options.bits);
    } catch (error) {
      fail('$.bits', `option bits: ${(error as Error).message}`);
    }
  }
  const imageChannels = spec.imageChannels ?? 3;
  if (!Number.isInteger(imageChannels) || imageChannels < 1 || imageChannels > SPACE_LIMITS.imageChannels) {
    fail('$.imageChannels', `imageChannels must be an integer from 1 to ${SPACE_LIMITS.imageChannels}, got ${imageChannels}`);
  }
  const ctx: Context = { spec, env: { C: channels, s: scale, N: cells }, bits, source, names: new Map(), blocks: [], totals: { steps: 0, weights: 0 } };
  const root = resolveGraph(ctx, spec, '$', '', { channels: imageChannels, grid: 'lr' });
  if (root.outputChannels !== imageChannels) {
    fail('$.output', `the output '${root.output}' has ${root.outputChannels} channels; the SR image has ${imageChannels}`);
  }
  if (scale > 1 && root.outputGrid !== 'hr')
    fail('$.output', `the output '${root.output}' is on the LR grid; a x${scale} space needs a pixel shuffle before it`);
  const groups = groupBlocks(ctx);
  for (const [nodeId, op] of Object.entries(spec.baseline ?? {})) {
    const blocks = ctx.blocks.filter((b) => blockNodeId(b) === nodeId);
    if (blocks.length === 0) fail(`$.baseline.${nodeId}`, `'${nodeId}' is not the id of a searchable (mixed) node`);
    for (const block of blocks)
      if (!block.candidates.includes(op))
        fail(`$.baseline.${nodeId}`, `'${op}' is not a candidate of '${nodeId}' (candidates: ${block.candidates.join(', ')})`);
  }
  return {
    spec,
    id: spec.id,
    channels,
    scale,
    cells,
    imageChannels,
    fixedBits: spec.fixedBits ?? 8,
    root,
    blocks: ctx.blocks,
    groups,
  };
}

function groupBlocks(ctx: Context): AlphaGroupPlan[] {
  const byId = new Map<string, MixedStep[]>();
  for (const block of ctx.blocks) {
    const list = byId.get(block.group) ?? [];
    const first = list[0];
    if (first) {
      const same = (a: readonly unknown[], b: readonly unknown[]) => a.length === b.length && a.every((v, i) => v === b[i]);
      if (!same(first.candidates, block.candidates)) {
        throw new SpecError(
          `${block.path}.candidates`,
          `alphaGroup '${block.group}' shares α with ${first.path}, whose candidates differ ([${first.candidates.join(', ')}] vs [${block.candidates.join(', ')}])`,
          ctx.source,
        );
      }
      if (!same(first.bits, block.bits)) {
        throw new SpecError(
          `${block.path}.bits`,
          `alphaGroup '${block.group}' shares α with ${first.path}, whose bits differ ([${first.bits.join(', ')}] vs [${block.bits.join(', ')}])`,
          ctx.source,
        );
      }
    }
    list.push(block);
    byId.set(block.group, list);
  }
  for (const block of ctx.blocks) {
    const owner = byId.get(block.name);
    if (block.group !== block.name && owner && owner.some((b) => b !== block && b.group === b.name)) {
      throw new SpecError(`${block.path}.alphaGroup`, `alphaGroup '${block.group}' is also the name of another block with its own α`, ctx.source);
    }
  }
  return [...byId].map(([id, blocks]) => {
    const { candidates, bits } = blocks[0]!;
    return { id, candidates, bits, blocks, pairs: candidates.flatMap((op) => bits.map((b) => ({ op, bits: b }))) };
  });
}

function resolveGraph(ctx: Context, graph: GraphSpec, base: string, prefix: string, input: Tensor): GraphPlan {
  const fail = (path: string, problem: string): never => {
    throw new SpecError(path, problem, ctx.source);
  };
  const tensors = new Map<string, Tensor>([[INPUT, input]]);
  const definedAt = new Map<string, string>();
  const later = new Map<string, number>();
  graph.nodes.forEach((n, i) => later.has(n.id) || later.set(n.id, i));
  const steps: Step[] = [];

  graph.nodes.forEach((node, index) => {
    const path = `${base}.nodes[${index}]`;
    if (node.id === INPUT) fail(`${path}.id`, `'${INPUT}' is reserved for the graph's input`);
    const previous = definedAt.get(node.id);
    if (previous) fail(`${path}.id`, `duplicate id '${node.id}' (also at ${previous})`);
    const name = `${prefix}${node.id}`;
    const taken = ctx.names.get(name);
    if (taken) fail(`${path}.id`, `block name '${name}' is used twice (also at ${taken}; a residual body shares its parent's names)`);
    ctx.names.set(name, path);

    const ref = (tensor: string, field: string): Tensor => {
      const t = tensors.get(tensor);
      if (t) return t;
      if (tensor === node.id) return fail(`${path}.${field}`, `'${tensor}' refers to the node's own output (a cycle)`);
      const at = later.get(tensor);
      if (at !== undefined) {
        return fail(
          `${path}.${field}`,
          `'${tensor}' is defined later, at ${base}.nodes[${at}] (nodes must come in dependency order, so a cycle cannot be expressed)`,
        );
      }
      return fail(
        `${path}.${field}`,
        `unknown tensor '${tensor}'${base === '$' ? '' : ` (a body sees only its own input, named '${INPUT}', and its own nodes)`}`,
      );
    };
    const expr = (value: ChannelExpr, field: string, max: number = SPACE_LIMITS.tensorChannels): number => {
      let v: number;
      try {
        v = evalChannelExpr(value, ctx.env);
      } catch (error) {
        return fail(`${path}.${field}`, (error as Error).message);
      }
      if (v > max)
        fail(`${path}.${field}`, `${JSON.stringify(value)} is ${v} at C = ${ctx.env.C}, s = ${ctx.env.s}, N = ${ctx.env.N}, over the limit of ${max}`);
      return v;
    };
    /** Tensor channels computed from others (concat, repeats): bounded like a declared count. */
    const bounded = (channels: number, field: string): number => {
      if (channels > SPACE_LIMITS.tensorChannels)
        fail(`${path}.${field}`, `the node's output has ${channels} channels, over the limit of ${SPACE_LIMITS.tensorChannels}`);
      return channels;
    };
    /** Adds a node's conv weights to the space's total, failing at the node that passes the limit. */
    const weigh = (convs: readonly { kernelH: number; kernelW: number; inChannels: number; outChannels: number; groups: number }[], field: string): void => {
      for (const c of convs) ctx.totals.weights += (c.kernelH * c.kernelW * c.inChannels * c.outChannels) / c.groups;
      if (ctx.totals.weights > SPACE_LIMITS.weights) {
        fail(
          `${path}.${field}`,
          `the space passes ${SPACE_LIMITS.weights} conv weights here (at C = ${ctx.env.C}, s = ${ctx.env.s}, N = ${ctx.env.N}): too large to build`,
        );
      }
    };
    if (++ctx.totals.steps > SPACE_LIMITS.steps) fail(path, `the network passes ${SPACE_LIMITS.steps} nodes here (repeats unrolled): too large to build`);
    const inChannels = (tensor: string, declared: ChannelExpr): { t: Tensor; n: number } => {
      const t = ref(tensor, 'input');
      const n = expr(declared, 'in');
      if (n !== t.channels) fail(`${path}.in`, `in is ${n} but its input '${tensor}' has ${t.channels} channels`);
      return { t, n };
    };
    const step = resolveNode(node);
    steps.push(step);
    tensors.set(node.id, { channels: step.outChannels, grid: step.grid });
    definedAt.set(node.id, path);

    function resolveNode(n: NodeSpec): Step {
      const common = { id: n.id, name, path };
      switch (n.kind) {
        case 'mixed': {
          const { t, n: cin } = inChannels(n.input, n.in);
          const cout = expr(n.out, 'out');
          const width = expr(n.width ?? 'C', 'width');
          let candidates: readonly PrimitiveId[];
          if (typeof n.candidates === 'string') {
            // Own keys only: 'constructor' or '__proto__' must not find Object.prototype's.
            const list = Object.hasOwn(ctx.spec.candidates, n.candidates) ? ctx.spec.candidates[n.candidates] : undefined;
            if (!list) {
              return fail(
                `${path}.candidates`,
                `unknown candidate list '${n.candidates}' (the space defines: ${Object.keys(ctx.spec.candidates).join(', ') || 'none'})`,
              );
            }
            candidates = list;
          } else candidates = n.candidates;
          candidates.forEach((op, j) => {
            const where = typeof n.candidates === 'string' ? 'candidates' : `candidates[${j}]`;
            let convs;
            try {
              convs = primitiveConvs(parsePrimitive(op), cin, cout, width);
            } catch (error) {
              return fail(`${path}.${where}`, `${op} cannot map ${cin} → ${cout} channels: ${(error as Error).message}`);
            }
            weigh(convs, where);
          });
          const step: MixedStep = {
            kind: 'mixed',
            ...common,
            input: n.input,
            inChannels: cin,
            outChannels: cout,
            width,
            ...(n.initScale !== undefined ? { initScale: n.initScale } : {}),
            ...(n.init === 'he' ? { initGain: Math.sqrt(6) } : {}),
            imageInput: n.imageInput ?? false,
            candidates,
            bits: ctx.bits ?? n.bits ?? ctx.spec.bits,
            group: n.alphaGroup ?? name,
            grid: t.grid,
          };
          ctx.blocks.push(step);
          return step;
        }
        case 'conv': {
          const { t, n: cin } = inChannels(n.input, n.in);
          const cout = expr(n.out, 'out');
          const groups = n.groups ?? 1;
          if (cin % groups !== 0 || cout % groups !== 0) fail(`${path}.groups`, `channels ${cin} → ${cout} are not divisible by ${groups} groups`);
          const kernel: [number, number] = typeof n.kernel === 'number' ? [n.kernel, n.kernel] : [n.kernel[0], n.kernel[1]];
          const s = ctx.env.s;
          if (n.init === 'bicubic') {
            if (s < 2) fail(`${path}.init`, `bicubic initialisation needs a scale ≥ 2, the space's is ${s}`);
            if (groups !== cin || cout !== cin * s * s || kernel[0] !== 5 || kernel[1] !== 5) {
              fail(
                `${path}.init`,
                `bicubic initialisation needs in = groups and out = in·s² with a 5×5 kernel, got ${cin} → ${cout}, ${groups} group(s), ${kernel.join('×')}`,
              );
            }
          }
          if (n.frozen && n.init === undefined) fail(`${path}.frozen`, 'a frozen conv needs an init (it would keep random weights)');
          weigh([{ kernelH: kernel[0], kernelW: kernel[1], inChannels: cin, outChannels: cout, groups }], 'kernel');
          const init = n.init === 'bicubic' ? { init: { kind: 'bicubic' as const, scale: s } } : {};
          return {
            kind: 'conv',
            ...common,
            input: n.input,
            inChannels: cin,
            outChannels: cout,
            kernel,
            groups,
            bias: n.bias ?? false,
            frozen: n.frozen ?? false,
            imageInput: n.imageInput ?? false,
            grid: t.grid,
            ...init,
          };
        }
        case 'add':
        case 'concat': {
          const ins = n.inputs.map((x, j) => ({ x, t: ref(x, `inputs[${j}]`) }));
          const first = ins[0]!;
          for (const [j, other] of ins.entries()) {
            if (other.t.grid !== first.t.grid) {
              fail(
                `${path}.inputs[${j}]`,
                `${n.kind} of tensors on different grids: '${first.x}' is ${first.t.grid.toUpperCase()}, '${other.x}' is ${other.t.grid.toUpperCase()}`,
              );
            }
            if (n.kind === 'add' && other.t.channels !== first.t.channels) {
              fail(
                `${path}.inputs[${j}]`,
                `add of tensors with different channels: '${first.x}' has ${first.t.channels}, '${other.x}' has ${other.t.channels}`,
              );
            }
          }
          const outChannels = bounded(n.kind === 'add' ? first.t.channels : ins.reduce((s, i) => s + i.t.channels, 0), 'inputs');
          return { kind: n.kind, ...common, inputs: n.inputs, outChannels, grid: first.t.grid };
        }
        case 'pixel_shuffle': {
          const t = ref(n.input, 'input');
          const s = ctx.env.s;
          if (t.grid !== 'lr') fail(`${path}.input`, `'${n.input}' is already on the HR grid (a network upsamples once)`);
          if (t.channels % (s * s) !== 0) fail(`${path}.input`, `'${n.input}' has ${t.channels} channels, not divisible by s² = ${s * s}`);
          return { kind: 'pixel_shuffle', ...common, input: n.input, scale: s, outChannels: t.channels / (s * s), grid: 'hr' };
        }
        case 'repeat_channels': {
          const t = ref(n.input, 'input');
          const times = expr(n.times, 'times');
          return { kind: 'repeat_channels', ...common, input: n.input, times, outChannels: bounded(t.channels * times, 'times'), grid: t.grid };
        }
        case 'esa': {
          const t = ref(n.input, 'input');
          const c = expr(n.channels, 'channels');
          if (c !== t.channels) fail(`${path}.channels`, `channels is ${c} but its input '${n.input}' has ${t.channels}`);
          if (c < 4) fail(`${path}.channels`, `ESA needs at least 4 channels (f = C/4), got ${c}`);
          const f = Math.floor(c / 4);
          const conv = (k: number, cin: number, cout: number) => ({ kernelH: k, kernelW: k, inChannels: cin, outChannels: cout, groups: 1 });
          weigh([conv(1, c, f), conv(1, f, f), conv(3, f, f), conv(3, f, f), conv(3, f, f), conv(3, f, f), conv(1, f, c)], 'channels');
          return { kind: 'esa', ...common, input: n.input, outChannels: c, grid: t.grid };
        }
        case 'residual': {
          const t = ref(n.input, 'input');
          const body = resolveGraph(ctx, n.body, `${path}.body`, prefix, t);
          if (body.outputChannels !== t.channels || body.outputGrid !== t.grid) {
            fail(
              `${path}.body.output`,
              `a residual body must keep its input's shape: ${t.channels} channels (${t.grid.toUpperCase()}) in, ${body.outputChannels} (${body.outputGrid.toUpperCase()}) out`,
            );
          }
          return { kind: 'residual', ...common, input: n.input, adq: n.adq, body, outChannels: t.channels, grid: t.grid };
        }
        case 'repeat': {
          let t = ref(n.input, 'input');
          // Checked before unrolling: each iteration resolves the whole body again.
          const times = expr(n.times, 'times', SPACE_LIMITS.repeatTimes);
          const iterations: GraphPlan[] = [];
          for (let i = 0; i < times; i++) {
            const it = resolveGraph(ctx, n.body, `${path}.body`, `${name}${i}.`, t);
            if (i === 0 && times > 1 && (it.outputChannels !== t.channels || it.outputGrid !== t.grid)) {
              fail(
                `${path}.body.output`,
                `a repeated body must keep its input's shape: ${t.channels} channels (${t.grid.toUpperCase()}) in, ${it.outputChannels} (${it.outputGrid.toUpperCase()}) out`,
              );
            }
            iterations.push(it);
            t = { channels: it.outputChannels, grid: it.outputGrid };
          }
          const emit = n.emit ?? 'last';
          const outChannels = bounded(emit === 'concat' ? times * t.channels : t.channels, 'emit');
          return { kind: 'repeat', ...common, input: n.input, emit, iterations, outChannels, grid: t.grid };
        }
      }
    }
  });

  const out = tensors.get(graph.output);
  if (!out || graph.output === INPUT) {
    const at = later.get(graph.output);
    return fail(`${base}.output`, at === undefined ? `unknown tensor '${graph.output}'` : `'${graph.output}' must be a node of this graph`);
  }
  // A node that does not reach the output would get no gradient: in a searchable block its α
  // would be meaningless, elsewhere it is dead weight. Either way the document is wrong.
  const used = new Set<string>([graph.output]);
  for (let i = steps.length - 1; i >= 0; i--) {
    const s = steps[i]!;
    if (!used.has(s.id)) fail(`${base}.nodes[${i}]`, `node '${s.id}' does not contribute to the output '${graph.output}'`);
    for (const r of 'inputs' in s ? s.inputs : [s.input]) used.add(r);
  }
  return { inputChannels: input.channels, inputGrid: input.grid, steps, output: graph.output, outputChannels: out.channels, outputGrid: out.grid };
}

/** The id of the node a block comes from: its name without the repeat prefixes (`cell2.skip0` → `skip0`). */
export function blockNodeId(block: MixedStep): string {
  return block.name.slice(block.name.lastIndexOf('.') + 1);
}
