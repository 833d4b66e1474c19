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
export { runWgslElementwise, runWgslReduction, type WebGpuBackendLike, type WgslElementwise, type WgslReduction, type WgslUniform } from './webgpu-program.js';
