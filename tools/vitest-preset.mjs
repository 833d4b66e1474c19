// Shared vitest settings for every package. Tests resolve sibling packages to their TypeScript
// sources (the `@quantnas/source` export condition), so no build is needed before testing.
// With QUANTNAS_TEST_JSON=<dir>, each package also writes vitest's JSON report to <dir>/<pkg>.json,
// which tools/summarize-tests.mjs turns into the single summary line that CI reads.
import { basename, join } from 'node:path';
import { defineConfig } from 'vitest/config';

const conditions = ['@quantnas/source', 'module', 'node', 'import', 'default'];

export function packageTestConfig(packageDir, overrides = {}) {
  const jsonDir = process.env.QUANTNAS_TEST_JSON;
  const reporters = jsonDir ? ['default', ['json', { outputFile: join(jsonDir, `${basename(packageDir)}.json`) }]] : ['default'];
  return defineConfig({
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@quantnas/source'] } },
    test: {
      root: packageDir,
      include: ['src/**/*.test.ts'],
      reporters,
      passWithNoTests: false,
      testTimeout: 60_000,
      hookTimeout: 60_000,
      ...overrides,
    },
  });
}
