import { packageTestConfig } from '../../tools/vitest-preset.mjs';

export default packageTestConfig(import.meta.dirname);
