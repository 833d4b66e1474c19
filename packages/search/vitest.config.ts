import { missingTestData } from '../data/src/test-helpers.ts';
import { packageTestConfig } from '../../tools/vitest-preset.mjs';

// These files train or search on T91 (or read Set5) at load time: without the SR data they are left
// out with one warning, unless QUANTNAS_REQUIRE_DATA=1 (CI) keeps them in so that they fail.
const DATA_TESTS = [
  'src/search.test.ts',
  'src/diagnose.test.ts',
  'src/train/train.test.ts',
  'src/parallel/parallel.test.ts',
  'src/export/export-model.test.ts',
];
const missing = process.env.QUANTNAS_REQUIRE_DATA === '1' ? undefined : missingTestData(['Set5', 'T91']);
if (missing !== undefined) {
  console.warn(`skipping search: ${DATA_TESTS.join(', ')}: no SR data (${missing}). Run \`npx quantnas data fetch\` or set QUANTNAS_DATA=DIR.`);
}

export default packageTestConfig(import.meta.dirname, {
  globalSetup: ['./scripts/test-global-setup.mjs'],
  ...(missing !== undefined ? { exclude: ['**/node_modules/**', ...DATA_TESTS] } : {}),
});
