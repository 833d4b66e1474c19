export { evalChannelExpr, parseChannelExpr, type ChannelEnv, type ChannelExpr, type ChannelVariable } from './channel-expr.js';
export { genotypeCost, genotypeCostLayers, gridPixels, type CostInput, type GenotypeCostOptions } from './cost.js';
export { createDiscreteNetwork, type DiscreteNetwork, type DiscreteNetworkOptions, type NetworkConv } from './discrete-network.js';
export { GENOTYPE_SCHEMA_VERSION, GenotypeError, genotypeToJson, parseGenotype, type BlockChoice, type Genotype } from './genotype.js';
export { checkGenotype } from './genotype-check.js';
export { genotypeSvg, type GenotypeSvgOptions } from './genotype-svg.js';
export { buildGraph, type StepBuilders } from './graph-module.js';
export {
  walkSteps,
  type AddStep,
  type AlphaGroupPlan,
  type ConcatStep,
  type ConvStep,
  type EsaStep,
  type GraphPlan,
  type Grid,
  type MixedStep,
  type Pair,
  type PixelShuffleStep,
  type RepeatChannelsStep,
  type RepeatStep,
  type ResidualStep,
  type ResolveOptions,
  type SpacePlan,
  type Step,
} from './plan.js';
export { getSpace, isSpaceId, loadSpec, SPACE_IDS, type SpaceId } from './registry.js';
export { resolveSpace } from './resolve-space.js';
export { baselineGenotype, isFixedArchitecture, type Baseline, type BaselineOptions } from './baseline.js';
export {
  SPEC_SCHEMA_VERSION,
  type AddNodeSpec,
  type ConcatNodeSpec,
  type ConvNodeSpec,
  type EsaNodeSpec,
  type GraphSpec,
  type MixedNodeSpec,
  type NodeKind,
  type NodeSpec,
  type PixelShuffleNodeSpec,
  type RepeatChannelsNodeSpec,
  type RepeatNodeSpec,
  type ResidualNodeSpec,
  type SearchSpaceSpec,
} from './spec.js';
export { jsonPath, SpecError } from './spec-error.js';
export { searchSpaceSchema } from './spec-schema.js';
export { createSupernet, type AlphaGroup, type SearchMode, type Selector, type Supernet, type SupernetOptions } from './supernet.js';
export { validateSpec } from './validate-spec.js';
// The bit-widths and ADQ defaults every network of a space is built with, for packages above this one.
export { BIT_WIDTHS, type BitWidth, type QuantKernels } from '@quantnas/quant';
export { DEFAULT_ADQ_OPTIONS } from '@quantnas/adq';
