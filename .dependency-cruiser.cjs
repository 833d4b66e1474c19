// The package graph of docs/design.md, checked by dependency-cruiser (`npm run lint:deps`):
// 1. a package declares and imports only the @quantnas packages its row below allows;
// 2. it imports them through their package names, declared in its package.json (no relative path
//    into another package, no unresolvable import);
// 3. no import cycle, inside a package or across packages.
const ALLOWED = {
  'core-ops': [],
  quant: ['core-ops'],
  adq: ['core-ops'],
  'search-spaces': ['core-ops', 'quant', 'adq'],
  // search also reaches core-ops for the tfjs instance, Module and backend selection.
  search: ['search-spaces', 'metrics', 'data', 'runtime', 'core-ops'],
  metrics: ['data'],
  data: [],
  runtime: [],
  // sweep: experiment grids on a job queue; the caller injects what runs a job (the cli: quantnas run).
  sweep: [],
  // models: the bundled models for the runtime, and quantnas-upscale, which reads images with data.
  models: ['runtime', 'data'],
  // cli also reaches core-ops for backend selection (--backend) and the compute benchmarks.
  cli: ['search', 'runtime', 'models', 'metrics', 'data', 'core-ops', 'sweep'],
};

const { readdirSync, readFileSync } = require('node:fs');
const { join } = require('node:path');

// What each package.json declares must be allowed above; imports must then stay within what it
// declares, so an import is both allowed and declared.
const declared = {};
for (const name of readdirSync(join(__dirname, 'packages'))) {
  const manifest = JSON.parse(readFileSync(join(__dirname, 'packages', name, 'package.json'), 'utf8'));
  const deps = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies })
    .filter((d) => d.startsWith('@quantnas/'))
    .map((d) => d.slice('@quantnas/'.length));
  if (!ALLOWED[name]) throw new Error(`packages/${name} is not in the package graph of .dependency-cruiser.cjs`);
  const forbidden = deps.filter((d) => !ALLOWED[name].includes(d));
  if (forbidden.length > 0)
    throw new Error(
      `@quantnas/${name} may not depend on ${forbidden.map((d) => `@quantnas/${d}`).join(', ')} (allowed: ${ALLOWED[name].join(', ') || 'none'})`,
    );
  declared[name] = deps;
}

const layering = Object.entries(declared).map(([name, deps]) => ({
  name: `layering-${name}`,
  comment: `@quantnas/${name} imports only the @quantnas packages its package.json declares: ${deps.join(', ') || 'none'}`,
  severity: 'error',
  from: { path: `^packages/${name}/` },
  to: { path: '^packages/([^/]+)/', pathNot: `^packages/(${[name, ...deps].join('|')})/` },
}));

module.exports = {
  forbidden: [
    ...layering,
    {
      name: 'no-circular',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-relative-into-another-package',
      comment: 'another package is imported by its name, so that its exports decide what is public',
      severity: 'error',
      // A package's vitest.config.ts is tooling of the repository, not the package's code.
      from: { path: '^packages/([^/]+)/', pathNot: 'vitest\\.config\\.ts$' },
      to: { dependencyTypes: ['local'], path: '^packages/', pathNot: '^packages/$1/' },
    },
    {
      name: 'no-undeclared',
      comment: 'every imported package is declared in the importing package.json',
      severity: 'error',
      from: {},
      to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] },
    },
    {
      name: 'no-unresolvable',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/' },
    tsPreCompilationDeps: true,
    combinedDependencies: false,
    tsConfig: { fileName: 'tsconfig.base.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['@quantnas/source', 'import', 'node', 'default', 'types'],
      extensions: ['.ts', '.mts', '.js', '.mjs', '.json'],
      mainFields: ['module', 'main', 'types'],
    },
  },
};
