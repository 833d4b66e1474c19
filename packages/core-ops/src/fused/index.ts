export {
  FUSED_BACKENDS,
  fusedKernelsAvailable,
  registerFusedGradient,
  registerFusedKernel,
  runFused,
  runFusedMulti,
  simdOnCurrentBackend,
  type FusedKernel,
  type SimdContext,
} from './define-kernel.js';
