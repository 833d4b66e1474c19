// Checks the package dependency direction of docs/design.md. Run from a package directory (its `lint`
// target) or from the repository root (checks every package).
// 1. A package may depend only on the @quantnas packages its row below allows.
// 2. Every @quantnas import in its sources is declared in its package.json.
// 3. No source reaches into another package by a relative path.
import { readFileSync, readdirSync, statSync, existsSync } from 'node:fs';
import { basename, join, resolve, relative, dirname } from 'node:path';

export const ALLOWED = {
  'core-ops': [],
  quant: ['core-ops'],
  adq: ['core-ops'],
  'search-spaces': ['core-ops', 'quant', 'adq'],
  // search also reaches core-ops for the tfjs instance, Module and backend selection.
  search: ['search-spaces', 'metrics', 'data', 'runtime', 'core-ops'],
  metrics: ['data'],
  data: [],
  runtime: [],
  // models: the bundled models for the runtime, and quantnas-upscale, which reads images with data.
  models: ['runtime', 'data'],
  // cli also reaches core-ops for backend selection (--backend) and the compute benchmarks.
  cli: ['search', 'runtime', 'models', 'metrics', 'data', 'core-ops'],
};

function sourceFiles(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) out.push(...sourceFiles(path));
    else if (/\.(ts|mts|js|mjs)$/.test(entry)) out.push(path);
  }
  return out;
}

const importPattern = /(?:from\s+|import\s*\(\s*|import\s+)['"]([^'"]+)['"]/g;

function checkPackage(packageDir) {
  const name = basename(packageDir);
  const problems = [];
  const allowed = ALLOWED[name];
  if (!allowed) return [`${name}: not in the dependency table of tools/check-boundaries.mjs`];
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  const declared = Object.keys({ ...manifest.dependencies, ...manifest.peerDependencies, ...manifest.optionalDependencies })
    .filter((d) => d.startsWith('@quantnas/'))
    .map((d) => d.slice('@quantnas/'.length));
  for (const dep of declared) {
    if (!allowed.includes(dep)) problems.push(`${name}: may not depend on @quantnas/${dep} (allowed: ${allowed.join(', ') || 'none'})`);
  }
  const srcDir = join(packageDir, 'src');
  if (existsSync(srcDir)) {
    for (const file of sourceFiles(srcDir)) {
      const text = readFileSync(file, 'utf8');
      for (const match of text.matchAll(importPattern)) {
        const spec = match[1];
        const where = relative(process.cwd(), file);
        if (spec.startsWith('@quantnas/')) {
          const dep = spec.slice('@quantnas/'.length).split('/')[0];
          // A package may name itself (a self-reference, as a test of how consumers import it does).
          if (dep !== name && !declared.includes(dep)) problems.push(`${where}: imports ${spec}, which ${name}/package.json does not declare`);
        } else if (spec.startsWith('.')) {
          const target = resolve(dirname(file), spec);
          if (!target.startsWith(resolve(packageDir) + '/')) problems.push(`${where}: relative import ${spec} leaves the package`);
        }
      }
    }
  }
  return problems;
}

const here = process.cwd();
const root = existsSync(join(here, 'packages')) ? here : resolve(here, '../..');
const dirs = existsSync(join(here, 'packages'))
  ? readdirSync(join(root, 'packages')).map((p) => join(root, 'packages', p))
  : [here];
const problems = dirs.flatMap(checkPackage);
for (const p of problems) console.error(p);
if (problems.length > 0) process.exit(1);
console.log(`boundaries ok: ${dirs.map((d) => basename(d)).join(', ')}`);
