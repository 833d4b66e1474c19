import { packageTestConfig } from '../../tools/vitest-preset.mjs';

export default packageTestConfig(import.meta.dirname, { globalSetup: ['./scripts/test-global-setup.mjs'] });
