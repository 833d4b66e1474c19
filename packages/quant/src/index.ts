export { BIT_WIDTHS, HWGQ_STEPS, isBitWidth, parseBitWidth, type BitWidth } from './bits.js';
export {
  bitops,
  costReport,
  STANDARD_COST_INPUT,
  type CostedLayer,
  type CostReport,
  type LayerCost,
} from './cost-report.js';
export type { ActivationScheme, LayerQuant, QuantSpec, WeightScheme } from './quant-spec.js';
