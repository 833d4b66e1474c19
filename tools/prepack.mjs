// The `prepack` of every public package (`npm pack`, `npm publish`, also with `-w packages/NAME` from
// the root). Run from the package's folder:
// 1. builds the package through nx, its workspace dependencies first, so it is never packed against
//    a missing or older build of a sibling; nx restores unchanged builds from its cache;
// 2. removes from dist/ what tsc would not write for the current sources (outputs of deleted or
//    moved sources, maps an earlier setting wrote): tsc never deletes, and nx caches dist/ as it
//    finds it, so such leftovers would otherwise be packed;
// 3. checks that every file the manifest names (export map, types, main, bin) exists, and that the
//    export map names no test helper outside the `@quantnas/source` condition (sources, never packed).
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const pkgDir = process.cwd();
const manifest = JSON.parse(readFileSync(join(pkgDir, 'package.json'), 'utf8'));
const label = manifest.name ?? relative(root, pkgDir);

function fail(message) {
  console.error(`prepack ${label}: ${message}`);
  process.exit(1);
}

if (resolve(pkgDir, '..', '..') !== root || !existsSync(join(pkgDir, 'tsconfig.build.json'))) {
  fail(`run from a package folder of the workspace (packages/NAME), not ${pkgDir}`);
}
const project = manifest.nx?.name;
if (typeof project !== 'string') fail('package.json has no nx.name');

// 1. Build, dependencies first.
const require = createRequire(join(root, 'package.json'));
const nx = spawnSync(process.execPath, [require.resolve('nx/bin/nx.js'), 'run', `${project}:build`, '--outputStyle=static'], {
  cwd: root,
  stdio: 'inherit',
});
if (nx.status !== 0) fail(`the build failed (nx run ${project}:build exited with ${nx.status ?? nx.signal})`);

// 2. Leftovers: files of the shapes tsc writes that it would not write now. Folders of dist/ with no
// folder of the same name under the source root hold other build steps' output and are left alone.
const ts = require('typescript');
const configPath = join(pkgDir, 'tsconfig.build.json');
const parsed = ts.getParsedCommandLineOfConfigFile(
  configPath,
  {},
  {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => fail(ts.flattenDiagnosticMessageText(d.messageText, '\n')),
  },
);
if (parsed.errors.length > 0) fail(parsed.errors.map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n')).join('; '));
const { rootDir, outDir, sourceMap, declaration, declarationMap } = parsed.options;
if (!rootDir || !outDir) fail('tsconfig.build.json must set rootDir and outDir');

const expected = new Set();
for (const file of parsed.fileNames) {
  const match = /^(.*)\.(ts|mts|cts|tsx)$/.exec(file);
  if (!match || /\.d\.[mc]?ts$/.test(file)) continue;
  const base = join(outDir, relative(rootDir, match[1]));
  const js = { ts: '.js', tsx: '.js', mts: '.mjs', cts: '.cjs' }[match[2]];
  const dts = { ts: '.d.ts', tsx: '.d.ts', mts: '.d.mts', cts: '.d.cts' }[match[2]];
  expected.add(base + js);
  if (sourceMap) expected.add(base + js + '.map');
  if (declaration) expected.add(base + dts);
  if (declaration && declarationMap) expected.add(base + dts + '.map');
}
const tscShaped = /\.(d\.[mc]?ts|[mc]?js)(\.map)?$/;
const leftovers = [];
function walk(dir) {
  if (dir !== outDir && !isDir(join(rootDir, relative(outDir, dir)))) return;
  for (const entry of readdirSync(dir)) {
    const path = join(dir, entry);
    if (isDir(path)) walk(path);
    else if (tscShaped.test(entry) && !expected.has(path)) leftovers.push(path);
  }
}
if (isDir(outDir)) walk(outDir);
for (const path of leftovers) rmSync(path);
if (leftovers.length > 0) {
  const shown = leftovers.map((p) => relative(pkgDir, p).split(sep).join('/'));
  console.error(`prepack ${label}: removed ${shown.length} leftover build output(s) with no source: ${shown.join(', ')}`);
}

// 3. What the manifest names.
const missing = [];
const testOnly = [];
function checkTarget(target, where) {
  if (typeof target !== 'string') return;
  if (!existsSync(join(pkgDir, target))) missing.push(`${where} → ${target}`);
  if (/(^|\/)test-helpers\./.test(target)) testOnly.push(`${where} → ${target}`);
}
function walkExports(node, where) {
  if (typeof node === 'string') return checkTarget(node, where);
  if (node === null || typeof node !== 'object') return;
  for (const [key, value] of Object.entries(node)) {
    // The monorepo's own condition: TypeScript sources for its tests, not part of the package.
    if (key === '@quantnas/source') continue;
    walkExports(value, key.startsWith('.') ? key : `${where} [${key}]`);
  }
}
walkExports(manifest.exports, 'exports');
checkTarget(manifest.types, 'types');
checkTarget(manifest.main, 'main');
const bins = typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {});
for (const [name, target] of Object.entries(bins)) checkTarget(target, `bin ${name}`);
if (missing.length > 0) fail(`the build did not produce what package.json names: ${missing.join('; ')}`);
if (testOnly.length > 0) fail(`the export map publishes test helpers: ${testOnly.join('; ')}`);

function isDir(path) {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
