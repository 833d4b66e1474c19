export {
  GENOTYPE_SCHEMA_VERSION,
  GenotypeError,
  genotypeToJson,
  parseGenotype,
  type BlockChoice,
  type Genotype,
} from './genotype.js';
export type {
  AddNodeSpec,
  ConcatNodeSpec,
  EsaNodeSpec,
  FixedConvNodeSpec,
  Grid,
  NodeSpec,
  PixelShuffleNodeSpec,
  RepeatNodeSpec,
  ResidualNodeSpec,
  SearchableNodeSpec,
  SearchSpaceSpec,
} from './spec.js';
