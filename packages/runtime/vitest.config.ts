import { spawnSync } from 'node:child_process';
import { packageTestConfig } from '../../tools/vitest-preset.mjs';

// Node 20 has relaxed SIMD only behind a V8 flag: turn it on in the test workers so that both
// kernels are checked in one run. Later Node versions have it on by default and may reject the flag.
const relaxedFlag = '--experimental-wasm-relaxed-simd';
const flagWorks = spawnSync(process.execPath, [relaxedFlag, '-e', ''], { stdio: 'ignore' }).status === 0;

export default packageTestConfig(import.meta.dirname, {
  globalSetup: ['./scripts/test-global-setup.mjs'],
  execArgv: flagWorks ? [relaxedFlag] : [],
});
