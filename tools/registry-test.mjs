#!/usr/bin/env node
// Publishes the workspace to a throwaway npm registry and installs it from there, as a user would
// (`npm run test:registry`; CI runs it after the build):
// 1. starts verdaccio (the root devDependency) on 127.0.0.1 at a port the OS picks, with its storage
//    in a temporary folder, no uplinks, and anonymous publishing allowed;
// 2. publishes every public package of the workspace at its current version, in dependency order,
//    with `npm publish -w packages/NAME` (so through its prepack: tools/prepack.mjs), and mirrors the
//    third-party packages they need from this checkout's node_modules/ (tools/registry/mirror.mjs):
//    nothing is downloaded, and nothing but that registry is asked;
// 3. in fresh folders outside the repository, with an npmrc and cache of their own, installs
//    `@quantnas/cli`, and, each on its own, `@quantnas/runtime` and `@quantnas/models` (printing each
//    node_modules' `du -sh`), and checks what got installed: every package at this version, no
//    sources, tests or test helpers, every file the export maps name, the test-helper subpaths not
//    exported, every entry importable and its types resolving in a TypeScript program; `quantnas
//    --help`, `--version`, `downscale` and `upscale` (on a generated PNG, and on an image of the SR
//    data when the data is found where the CLI looks for it) give output byte-identical to this
//    checkout's built CLI; `quantnas upscale IN OUT` without --model (the bundled model) likewise,
//    and `quantnas-upscale IN OUT` of `@quantnas/models` installed alone (itself, the runtime, data
//    and the image codecs, nothing else) writes the same bytes; the runtime imports, upscales like
//    this checkout's runtime, has no dependencies, and its types check with tsc;
// 4. versions one package on its own: in a copy of this checkout with a single changeset
//    (`@quantnas/metrics`: minor), `changeset version` and `changeset publish` must release that
//    package and the dependents whose range it leaves, with raised ranges, and leave every other
//    package at its version on the registry;
// 5. stops the registry and removes every temporary folder, whatever happened (`--keep` keeps them).
// Exits non-zero with a message naming the failed step. Every step has a time limit.
import { spawn } from 'node:child_process';
import { copyFileSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { mirrorPackages, thirdPartyClosure } from './registry/mirror.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const keep = process.argv.includes('--keep');
const started = performance.now();
const seconds = () => ((performance.now() - started) / 1000).toFixed(1);
const log = (message) => console.log(`registry: ${message} (${seconds()} s)`);

/** Limits, in seconds. Publishing includes the prepack build (nx, from its cache when unchanged). */
const LIMITS = { start: 60, publish: 300, mirror: 180, install: 300, command: 120, total: 900 };

class StepError extends Error {
  constructor(message, details = '') {
    super(message);
    this.details = details;
  }
}

let step = 'setup';
let tmp;
let registry;
const children = new Set();

// ---------------------------------------------------------------------------------------------
// Processes

/**
 * Runs a command to completion with a time limit; resolves with its exit code and output, or
 * rejects on timeout (the whole process group is killed). Never uses a shell.
 */
function run(command, args, { cwd = root, env = process.env, timeout = LIMITS.command, input } = {}) {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    children.add(child);
    const out = [];
    const err = [];
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeout * 1000);
    child.on('error', (error) => {
      clearTimeout(timer);
      children.delete(child);
      reject(new StepError(`cannot run ${command}: ${error.message}`));
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      const result = { code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err) };
      if (timedOut) reject(new StepError(`${describe(command, args)} took longer than ${timeout} s`, tail(result)));
      else resolvePromise(result);
    });
    child.stdin.end(input);
  });
}

/** `run`, failing the step unless the command exits 0. */
async function runOk(command, args, options) {
  const result = await run(command, args, options);
  if (result.code !== 0) {
    throw new StepError(`${describe(command, args)} exited with ${result.code ?? result.signal}`, tail(result));
  }
  return result;
}

function describe(command, args) {
  const shown = [command === process.execPath ? 'node' : command, ...args].map((a) => (a.startsWith(root) ? relative(root, a) || '.' : a));
  return shown.map((a) => (a.startsWith(tmp ?? '\0') ? `$TMP${a.slice(tmp.length)}` : a)).join(' ');
}

function tail({ stdout, stderr }, lines = 40) {
  const text = `${stdout.toString()}${stderr.toString()}`.trimEnd().split('\n');
  return text.slice(-lines).join('\n');
}

function killGroup(child, signal) {
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Gone already.
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The registry

async function startRegistry(dir) {
  const storage = join(dir, 'storage');
  mkdirSync(storage);
  const config = join(dir, 'verdaccio.yaml');
  writeFileSync(
    config,
    [
      `storage: ${JSON.stringify(storage)}`,
      'auth:',
      '  htpasswd:',
      `    file: ${JSON.stringify(join(dir, 'htpasswd'))}`,
      '    max_users: -1',
      '# No uplinks: the registry serves only what this test publishes.',
      'uplinks: {}',
      'packages:',
      "  '**':",
      '    access: $all',
      '    publish: $all',
      '    unpublish: $all',
      'max_body_size: 500mb',
      'web:',
      '  enable: false',
      'log: { type: stdout, format: pretty, level: warn }',
      '',
    ].join('\n'),
  );
  const child = spawn(process.execPath, [join(root, 'tools/registry/server.mjs'), config], {
    cwd: dir,
    env: { ...cleanEnv(), NODE_NO_WARNINGS: '1' },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  children.add(child);
  const output = [];
  const remember = (d) => {
    output.push(d.toString());
    if (output.length > 200) output.shift();
  };
  child.stderr.on('data', remember);
  const port = await new Promise((resolvePromise, reject) => {
    let buffered = '';
    const timer = setTimeout(() => reject(new StepError(`verdaccio did not start within ${LIMITS.start} s`, output.join(''))), LIMITS.start * 1000);
    child.stdout.on('data', (d) => {
      buffered += d.toString();
      if (!/^listening \d+$/m.test(d.toString())) remember(d);
      const match = /^listening (\d+)$/m.exec(buffered);
      if (match) {
        clearTimeout(timer);
        resolvePromise(Number(match[1]));
      }
    });
    child.on('exit', (code, signal) => {
      clearTimeout(timer);
      children.delete(child);
      reject(new StepError(`verdaccio exited with ${code ?? signal} before it listened`, output.join('')));
    });
    child.on('error', (error) => reject(new StepError(`cannot start verdaccio: ${error.message}`)));
  });
  return { url: `http://127.0.0.1:${port}/`, child, output };
}

async function stopRegistry() {
  if (!registry) return;
  const { child } = registry;
  registry = undefined;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.stdin.end();
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}

// ---------------------------------------------------------------------------------------------
// Environments

/** This process's environment without npm's per-run variables (config a parent npm passed down). */
function cleanEnv() {
  const env = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^npm_/i.test(key) || key === 'INIT_CWD' || key === 'NODE_OPTIONS') continue;
    env[key] = value;
  }
  return env;
}

/** npm, with every setting from this test's own files: nothing read from or written to the user's. */
function npmEnv() {
  return {
    ...cleanEnv(),
    npm_config_userconfig: join(tmp, 'npmrc'),
    npm_config_globalconfig: join(tmp, 'global-npmrc'),
    npm_config_cache: join(tmp, 'npm-cache'),
    npm_config_registry: registry.url,
    npm_config_audit: 'false',
    npm_config_fund: 'false',
    npm_config_update_notifier: 'false',
    npm_config_loglevel: 'warn',
    NX_DAEMON: process.env.NX_DAEMON ?? 'false',
    NX_TUI: 'false',
  };
}

/** A command line's environment: no data or cache settings of the user's, a home of its own. */
function cliEnv() {
  const env = { PATH: process.env.PATH ?? '', HOME: join(tmp, 'home'), TMPDIR: join(tmp, 'tmp'), LANG: 'C' };
  return env;
}

// ---------------------------------------------------------------------------------------------
// The workspace

/** Public workspace packages, each after the workspace packages it depends on. */
function workspacePackages() {
  const dirs = readdirSync(join(root, 'packages')).filter((d) => existsSync(join(root, 'packages', d, 'package.json')));
  const all = new Map();
  for (const d of dirs.sort()) {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', d, 'package.json'), 'utf8'));
    all.set(manifest.name, { name: manifest.name, version: manifest.version, dir: `packages/${d}`, manifest });
  }
  const ordered = [];
  const visiting = new Set();
  const visit = (pkg) => {
    if (ordered.includes(pkg)) return;
    if (visiting.has(pkg.name)) throw new StepError(`workspace dependency cycle through ${pkg.name}`);
    visiting.add(pkg.name);
    const deps = { ...pkg.manifest.dependencies, ...pkg.manifest.optionalDependencies, ...pkg.manifest.peerDependencies };
    for (const dep of Object.keys(deps).sort()) if (all.has(dep)) visit(all.get(dep));
    visiting.delete(pkg.name);
    ordered.push(pkg);
  };
  for (const pkg of all.values()) visit(pkg);
  const privates = ordered.filter((p) => p.manifest.private);
  for (const p of ordered) {
    for (const dep of Object.keys(p.manifest.dependencies ?? {})) {
      if (privates.some((q) => q.name === dep) && !p.manifest.private) throw new StepError(`${p.name} depends on the private ${dep}`);
    }
  }
  return ordered.filter((p) => !p.manifest.private);
}

// ---------------------------------------------------------------------------------------------
// Checks of an installed tree

function filesUnder(dir, skip = (rel) => rel === 'node_modules') {
  const out = [];
  const walk = (sub) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (skip(rel)) continue;
      if (entry.isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('');
  return out;
}

/** Export-map targets of a manifest: [subpath, condition path, target], the source condition marked. */
function exportTargets(exports) {
  const out = [];
  const walk = (node, subpath, conditions) => {
    if (typeof node === 'string') out.push({ subpath, conditions, target: node });
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key.startsWith('.')) walk(value, key, []);
        else walk(value, subpath, [...conditions, key]);
      }
    }
  };
  if (typeof exports === 'string') out.push({ subpath: '.', conditions: [], target: exports });
  else walk(exports, '.', []);
  return out;
}

/** Problems of one installed @quantnas package: what it ships and what its manifest names. */
function checkInstalledPackage(consumer, expected) {
  const dir = join(consumer, 'node_modules', expected.name);
  const problems = [];
  if (!existsSync(join(dir, 'package.json'))) return [`${expected.name} is not installed`];
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (manifest.version !== expected.version) problems.push(`${expected.name}: installed ${manifest.version}, the workspace has ${expected.version}`);
  const files = filesUnder(dir);
  const shipped = new Set(files);
  for (const f of files) {
    if (/^(src|assembly|scripts|demo)\//.test(f)) problems.push(`${expected.name} ships ${f} (sources or build scripts)`);
    else if (/(^|\/)test-helpers\.|\.test\.|(^|\/)test\/|\.tsbuildinfo$|\.d\.ts\.map$/.test(f)) problems.push(`${expected.name} ships ${f}`);
  }
  for (const required of ['LICENSE', 'README.md', 'package.json']) if (!shipped.has(required)) problems.push(`${expected.name} lacks ${required}`);
  for (const { subpath, conditions, target } of exportTargets(manifest.exports)) {
    const rel = target.replace(/^\.\//, '');
    const where = `exports["${subpath}"]${conditions.map((c) => `[${c}]`).join('')}`;
    if (conditions.includes('@quantnas/source')) {
      if (shipped.has(rel)) problems.push(`${expected.name}: ${where} is a source the package should not ship (${target})`);
    } else if (!shipped.has(rel) && !rel.includes('*')) {
      problems.push(`${expected.name}: ${where} → ${target}, which is not in the package`);
    }
  }
  for (const field of ['types', 'main']) {
    if (manifest[field] && !shipped.has(manifest[field].replace(/^\.\//, '')))
      problems.push(`${expected.name}: ${field} → ${manifest[field]}, which is not in the package`);
  }
  for (const [bin, target] of Object.entries(typeof manifest.bin === 'string' ? { [manifest.name]: manifest.bin } : (manifest.bin ?? {}))) {
    if (!shipped.has(target.replace(/^\.\//, ''))) problems.push(`${expected.name}: bin ${bin} → ${target}, which is not in the package`);
  }
  return problems;
}

/** The packages installed at the top of a consumer's node_modules (scoped ones as @scope/name), sorted. */
function topLevelPackages(consumer) {
  const dir = join(consumer, 'node_modules');
  const out = [];
  for (const entry of readdirSync(dir)) {
    if (entry.startsWith('.')) continue;
    if (entry.startsWith('@')) for (const sub of readdirSync(join(dir, entry))) out.push(`${entry}/${sub}`);
    else out.push(entry);
  }
  return out.sort();
}

/** `du -sh node_modules` of a consumer folder (disk usage, in du's units). */
async function installedSize(consumer) {
  const { stdout } = await runOk('du', ['-sh', 'node_modules'], { cwd: consumer, env: cliEnv() });
  return stdout.toString().split('\t')[0].trim();
}

/** A script run inside a consumer folder: imports every entry point and tries the test-only subpaths. */
const PROBE = `
import { readFileSync } from 'node:fs';
const names = JSON.parse(process.argv[2]);
const out = {};
for (const name of names) {
  const manifest = JSON.parse(readFileSync(new URL('./node_modules/' + name + '/package.json', import.meta.url), 'utf8'));
  const result = { entries: {}, notExported: {} };
  for (const [subpath, value] of Object.entries(manifest.exports ?? {})) {
    const spec = subpath === '.' ? name : name + subpath.slice(1);
    if (subpath === './package.json') continue;
    const conditions = typeof value === 'object' && value !== null ? Object.keys(value) : [];
    const testOnly = conditions.length > 0 && conditions.every((c) => c === '@quantnas/source');
    try {
      const mod = await import(spec);
      result.entries[spec] = testOnly ? 'IMPORTED' : Object.keys(mod).length;
    } catch (error) {
      result[testOnly ? 'notExported' : 'entries'][spec] = testOnly && error.code === 'ERR_PACKAGE_PATH_NOT_EXPORTED' ? 'not exported' : 'FAILED: ' + (error.code ?? '') + ' ' + error.message.split('\\n')[0];
    }
  }
  out[name] = result;
}
console.log(JSON.stringify(out));
`;

async function probeImports(consumer, names) {
  writeFileSync(join(consumer, 'probe.mjs'), PROBE);
  const { stdout } = await runOk(process.execPath, ['probe.mjs', JSON.stringify(names)], { cwd: consumer, env: cliEnv() });
  const results = JSON.parse(stdout.toString().trim().split('\n').pop());
  const problems = [];
  for (const [name, { entries, notExported }] of Object.entries(results)) {
    for (const [spec, value] of Object.entries(entries)) {
      if (value === 'IMPORTED') problems.push(`${spec} (test-only) imports from the installed package`);
      else if (typeof value === 'string') problems.push(`import('${spec}') ${value}`);
      else if (value === 0) problems.push(`import('${spec}') has no exports`);
    }
    for (const [spec, value] of Object.entries(notExported)) {
      if (value !== 'not exported') problems.push(`import('${spec}'): expected ERR_PACKAGE_PATH_NOT_EXPORTED, got ${value}`);
    }
    if (Object.keys(entries).length === 0) problems.push(`${name}: no entry point imported`);
  }
  return { problems, results };
}

// ---------------------------------------------------------------------------------------------
// Images and models

/** A deterministic RGB test card: gradients, a checkerboard, hashed noise; odd sizes on purpose. */
function testCard(width, height) {
  const data = new Uint8Array(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const i = (y * width + x) * 3;
      const noise = (Math.imul((x * 73856093) ^ (y * 19349663), 2654435761) >>> 24) & 0x3f;
      const check = ((x >> 3) + (y >> 3)) & 1 ? 60 : 0;
      data[i] = (x * 255) / (width - 1);
      data[i + 1] = ((y * 255) / (height - 1) + check) & 0xff;
      data[i + 2] = (128 + noise + (check >> 1)) & 0xff;
    }
  }
  return { width, height, channels: 3, data };
}

function pngSize(bytes) {
  if (bytes.length < 24 || bytes.readUInt32BE(0) !== 0x89504e47) throw new StepError('the output is not a PNG');
  return [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];
}

/** An image of the SR data, found the way the CLI finds its data; undefined when there is none. */
async function dataImage(data) {
  let dataRoot;
  try {
    dataRoot = data.resolveDataRoot();
  } catch (error) {
    if (error instanceof data.DataError) return { reason: error.message.split(';')[0] };
    throw error;
  }
  for (const set of ['Set5', 'Set14', 'B100']) {
    const hr = join(dataRoot, set, 'HR');
    if (!existsSync(hr)) continue;
    const files = readdirSync(hr)
      .filter((f) => /\.png$/i.test(f))
      .map((f) => join(hr, f));
    if (files.length === 0) continue;
    // The smallest, to keep the run short.
    files.sort((a, b) => statSync(a).size - statSync(b).size || a.localeCompare(b));
    return { path: files[0], label: `${set}/HR/${files[0].slice(hr.length + 1)}` };
  }
  return { reason: `no Set5, Set14 or B100 HR images under ${dataRoot}` };
}

// ---------------------------------------------------------------------------------------------

async function main() {
  // Built modules of this checkout: the reference the installed packages are compared with.
  const repoCli = join(root, 'packages/cli/bin/quantnas.js');
  const tsc = join(root, 'node_modules/typescript/bin/tsc');
  for (const [what, path] of [
    ['verdaccio', join(root, 'node_modules/verdaccio/package.json')],
    ['typescript', tsc],
  ]) {
    if (!existsSync(path)) throw new StepError(`${what} is not installed: run npm ci first`);
  }

  const base = realpathSync(tmpdir());
  tmp = mkdtempSync(join(base, 'quantnas-registry-'));
  if (!relative(root, tmp).startsWith('..')) throw new StepError(`the temporary folder ${tmp} is inside the repository; set TMPDIR elsewhere`);
  for (const d of ['home', 'tmp', 'npm-cache', 'work']) mkdirSync(join(tmp, d));
  writeFileSync(join(tmp, 'global-npmrc'), '');

  step = 'start the registry';
  registry = await startRegistry(tmp);
  const host = new URL(registry.url).host;
  // npm will not publish without a credential for the registry; this one is never checked.
  writeFileSync(join(tmp, 'npmrc'), `registry=${registry.url}\n//${host}/:_authToken=local-test\n`);
  log(`verdaccio on ${registry.url}`);

  const packages = workspacePackages();
  step = 'publish';
  const mirror = (async () => {
    const closure = thirdPartyClosure(
      root,
      packages.map((p) => p.dir),
    );
    const bytes = await withTimeout(mirrorPackages(registry.url, closure), LIMITS.mirror, 'mirroring the third-party packages');
    return { count: closure.length, bytes };
  })();
  // Publishing runs while the mirror packs; a failure of either stops the test.
  mirror.catch(() => {});
  for (const pkg of packages) {
    const published = await runOk('npm', ['publish', '-w', pkg.dir, '--registry', registry.url], { env: npmEnv(), timeout: LIMITS.publish });
    // npm rewrites a manifest it finds wrong before publishing; the manifest in git should be right.
    if (/auto-corrected/.test(published.stderr.toString())) {
      throw new StepError(`npm publish corrected ${pkg.dir}/package.json: fix it (npm pkg fix -w ${pkg.dir})`, tail(published));
    }
    const response = await fetch(`${registry.url}${pkg.name.replace('/', '%2f')}`, { signal: AbortSignal.timeout(10_000) });
    const doc = response.ok ? await response.json() : undefined;
    if (!doc?.versions?.[pkg.version]) throw new StepError(`${pkg.name}@${pkg.version} is not in the registry after npm publish (HTTP ${response.status})`);
    log(`published ${pkg.name}@${pkg.version}`);
  }
  const mirrored = await mirror;
  log(`mirrored ${mirrored.count} third-party packages (${(mirrored.bytes / 1e6).toFixed(1)} MB)`);

  // Consumers: fresh folders, the registry as their only source.
  const version = (name) => packages.find((p) => p.name === name)?.version;
  const CONSUMED = ['@quantnas/cli', '@quantnas/runtime', '@quantnas/models'];
  for (const name of CONSUMED) if (!version(name)) throw new StepError(`the workspace has no public ${name}`);
  const consumers = {};
  step = 'install';
  await Promise.all(
    CONSUMED.map(async (name) => {
      const dir = join(tmp, name.split('/')[1]);
      mkdirSync(dir);
      writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name: `consumer-of-${name.split('/')[1]}`, private: true, type: 'module' }, null, 2)}\n`);
      await runOk('npm', ['install', `${name}@${version(name)}`, '--registry', registry.url], { cwd: dir, env: npmEnv(), timeout: LIMITS.install });
      consumers[name] = dir;
    }),
  );
  const installedSizes = {};
  for (const name of CONSUMED) installedSizes[name] = await installedSize(consumers[name]);
  log(`installed ${CONSUMED.join(', ')}, each alone in a fresh folder; node_modules: ${CONSUMED.map((n) => `${n} ${installedSizes[n]}`).join(', ')} (du -sh)`);

  // What was installed.
  step = 'check the installed packages';
  const cliDir = consumers['@quantnas/cli'];
  const runtimeDir = consumers['@quantnas/runtime'];
  const installed = packages.filter((p) => existsSync(join(cliDir, 'node_modules', p.name)));
  const problems = [];
  for (const p of packages) {
    if (!installed.includes(p)) problems.push(`${p.name} was not installed with @quantnas/cli`);
  }
  for (const p of installed) problems.push(...checkInstalledPackage(cliDir, p));
  problems.push(
    ...checkInstalledPackage(
      runtimeDir,
      packages.find((p) => p.name === '@quantnas/runtime'),
    ),
  );
  const runtimeTree = topLevelPackages(runtimeDir);
  if (runtimeTree.join() !== '@quantnas/runtime') problems.push(`@quantnas/runtime alone installed more than itself: ${runtimeTree.join(', ')}`);
  // @quantnas/models alone: itself, the runtime, data and their third-party closure (the image
  // codecs), nothing of the search stack or tfjs.
  const modelsDir = consumers['@quantnas/models'];
  const modelsPkg = packages.find((p) => p.name === '@quantnas/models');
  const modelsDeps = ['@quantnas/models', ...Object.keys(modelsPkg.manifest.dependencies ?? {}).filter((d) => d.startsWith('@quantnas/'))].sort();
  const modelsExpected = [
    ...modelsDeps,
    ...thirdPartyClosure(
      root,
      modelsDeps.map((n) => packages.find((p) => p.name === n).dir),
    ).map((t) => t.name),
  ].sort();
  const modelsTree = topLevelPackages(modelsDir);
  if (modelsTree.join() !== modelsExpected.join())
    problems.push(`@quantnas/models alone installed ${modelsTree.join(', ')}; expected ${modelsExpected.join(', ')}`);
  for (const name of modelsDeps)
    problems.push(
      ...checkInstalledPackage(
        modelsDir,
        packages.find((p) => p.name === name),
      ),
    );
  const probe = await probeImports(
    cliDir,
    installed.map((p) => p.name),
  );
  problems.push(...probe.problems);
  if (problems.length > 0) throw new StepError(`${problems.length} problem(s) with the installed packages`, problems.join('\n'));
  const testOnly = Object.values(probe.results).flatMap((r) => Object.keys(r.notExported));
  log(`${installed.length} packages installed with the CLI, each importable; not exported: ${testOnly.join(', ') || 'no test-only subpath'}`);

  // Every package's types resolve in the installed tree. tfjs's own declarations do not pass a
  // strict check, so declaration files are skipped here; the runtime's are checked in full below.
  step = 'type-check against the installed packages';
  writeFileSync(join(cliDir, 'tsconfig.json'), tsconfig({ skipLibCheck: true }, 'check.ts'));
  writeFileSync(
    join(cliDir, 'check.ts'),
    [
      ...installed.map((p, i) => `import * as p${i} from '${p.name}';`),
      "import { main } from '@quantnas/cli';",
      "import { createImage, type ImageU8 } from '@quantnas/data';",
      "const code: Promise<number> = main(['--version']);",
      'const image: ImageU8 = createImage(2, 2, 3);',
      "// @ts-expect-error the types are the packages' own, not `any`",
      'const wrong: string = image;',
      `export { code, wrong, ${installed.map((_, i) => `p${i}`).join(', ')} };`,
      '',
    ].join('\n'),
  );
  await runOk(process.execPath, [tsc, '-p', join(cliDir, 'tsconfig.json')], { cwd: cliDir, env: cliEnv() });
  log(`a TypeScript program importing all ${installed.length} installed packages type-checks`);

  // The installed CLI against this checkout's.
  step = 'run the installed CLI';
  const installedCli = join(cliDir, 'node_modules/.bin/quantnas');
  const work = join(tmp, 'work');
  const both = async (args, name) => {
    const installedRun = await runOk(installedCli, args(`${name}.installed`), { cwd: work, env: cliEnv() });
    const repoRun = await runOk(process.execPath, [repoCli, ...args(`${name}.repo`)], { cwd: work, env: cliEnv() });
    if (!installedRun.stdout.equals(repoRun.stdout)) {
      throw new StepError(
        `quantnas ${args('OUT').join(' ')}: the installed CLI printed something else than this checkout's`,
        `installed:\n${installedRun.stdout}\nthis checkout:\n${repoRun.stdout}`,
      );
    }
    return installedRun;
  };
  const help = await both(() => ['--help'], 'help');
  if (!/Usage: quantnas/.test(help.stdout.toString()) || !/upscale/.test(help.stdout.toString()))
    throw new StepError('quantnas --help does not list the commands', help.stdout.toString());
  const shownVersion = (await both(() => ['--version'], 'version')).stdout.toString().trim();
  if (shownVersion !== version('@quantnas/cli')) throw new StepError(`quantnas --version printed ${shownVersion}, expected ${version('@quantnas/cli')}`);

  const data = await import(pathToFileURL(join(root, 'packages/data/dist/index.js')).href);
  const runtime = await import(pathToFileURL(join(root, 'packages/runtime/dist/index.js')).href);
  const inputs = [];
  writeFileSync(join(work, 'card.png'), data.encodePng(testCard(67, 45)));
  inputs.push({ name: 'card', path: join(work, 'card.png'), label: 'a generated 67x45 PNG', scale: 2 });
  const found = await dataImage(data);
  if (found.path) inputs.push({ name: 'data', path: found.path, label: found.label, scale: 4 });
  else if (process.env.QUANTNAS_REQUIRE_DATA === '1') throw new StepError(`QUANTNAS_REQUIRE_DATA=1, but ${found.reason}`);
  else log(`no data image (${found.reason}); the generated image only`);

  for (const input of inputs) {
    const model = join(work, `model-x${input.scale}.qnas`);
    if (!existsSync(model)) writeFileSync(model, runtime.encodeArtifact(runtime.syntheticRfdn({ seed: 3, channels: 12, cells: 1, scale: input.scale })));
    const lrName = `${input.name}-lr`;
    await both((out) => ['downscale', '--scale', String(input.scale), input.path, join(work, `${out}.png`)], lrName);
    const lr = compareOutputs(work, lrName);
    const [lw, lh] = pngSize(lr);
    // The integer engine on worker threads (the runtime's worker script and kernels, found in the
    // installed layout); on the small image also the tfjs-wasm engine (tfjs's .wasm files).
    const engines = [['int8', '--threads', '2'], ...(input.name === 'card' ? [['tfjs']] : [])];
    for (const [engine, ...rest] of engines) {
      const srName = `${input.name}-sr-${engine}`;
      await both((out) => ['upscale', '--model', model, '--engine', engine, ...rest, join(work, `${lrName}.repo.png`), join(work, `${out}.png`)], srName);
      const [sw, sh] = pngSize(compareOutputs(work, srName));
      if (sw !== lw * input.scale || sh !== lh * input.scale) throw new StepError(`upscale --engine ${engine} x${input.scale} of ${lw}x${lh} gave ${sw}x${sh}`);
    }
    const sizes = `${lw}x${lh} → ${lw * input.scale}x${lh * input.scale}`;
    log(`downscale x${input.scale} and upscale (${engines.map((e) => e[0]).join(', ')}) of ${input.label}: ${sizes}, byte-identical to this checkout's CLI`);
  }

  // The bundled model: `quantnas upscale IN OUT` without --model, and `quantnas-upscale IN OUT` of
  // @quantnas/models installed alone, which must write the same bytes.
  step = 'upscale with the bundled model';
  const upscaleBin = join(consumers['@quantnas/models'], 'node_modules/.bin/quantnas-upscale');
  const bundledInputs = [{ name: 'card', path: join(work, 'card.png'), label: 'the generated PNG' }];
  if (found.path) bundledInputs.push({ name: 'data', path: join(work, 'data-lr.repo.png'), label: `the x4 LR of ${found.label}` });
  for (const input of bundledInputs) {
    const name = `${input.name}-bundled`;
    await both((out) => ['upscale', input.path, join(work, `${out}.png`)], name);
    const cliOut = compareOutputs(work, name);
    const binOut = join(work, `${name}.bin.png`);
    await runOk(upscaleBin, ['--threads', '2', input.path, binOut], { cwd: work, env: cliEnv() });
    if (!readFileSync(binOut).equals(cliOut))
      throw new StepError(`quantnas-upscale of ${input.label} wrote other bytes than quantnas upscale with the bundled model`);
    const [iw, ih] = pngSize(readFileSync(input.path));
    const [ow, oh] = pngSize(cliOut);
    if (ow !== 4 * iw || oh !== 4 * ih) throw new StepError(`the bundled x4 model made ${ow}x${oh} of ${iw}x${ih}`);
    log(
      `the bundled model on ${input.label} (${iw}x${ih} → ${ow}x${oh}): quantnas upscale without --model, installed and in this checkout, and quantnas-upscale of @quantnas/models alone, byte-identical`,
    );
  }

  // The runtime on its own.
  step = 'use @quantnas/runtime on its own';
  const card = testCard(23, 17);
  const modelBytes = runtime.encodeArtifact(runtime.syntheticRfdn({ seed: 5, channels: 12, cells: 1, scale: 3 }));
  writeFileSync(join(runtimeDir, 'model.qnas'), modelBytes);
  writeFileSync(join(runtimeDir, 'card.rgb'), card.data);
  writeFileSync(
    join(runtimeDir, 'use.mjs'),
    `import { readFileSync, writeFileSync } from 'node:fs';
import { createSession } from '@quantnas/runtime';
const session = await createSession(readFileSync('model.qnas'));
const out = await session.upscale({ width: ${card.width}, height: ${card.height}, channels: 3, data: new Uint8Array(readFileSync('card.rgb')) });
await session.dispose();
writeFileSync('out.rgb', out.data);
console.log(JSON.stringify({ width: out.width, height: out.height, engine: session.info.engine }));
`,
  );
  const used = JSON.parse((await runOk(process.execPath, ['use.mjs'], { cwd: runtimeDir, env: cliEnv() })).stdout.toString());
  const session = await runtime.createSession(modelBytes);
  const expected = await session.upscale(card);
  await session.dispose();
  const got = readFileSync(join(runtimeDir, 'out.rgb'));
  if (used.width !== expected.width || used.height !== expected.height || !got.equals(Buffer.from(expected.data))) {
    throw new StepError(
      `the installed runtime upscaled to ${used.width}x${used.height} with other bytes than this checkout's runtime (${expected.width}x${expected.height})`,
    );
  }
  log(`@quantnas/runtime alone: imports and upscales ${card.width}x${card.height} → ${used.width}x${used.height} like this checkout's`);

  step = 'type-check against the installed @quantnas/runtime';
  writeFileSync(join(runtimeDir, 'tsconfig.json'), tsconfig({ skipLibCheck: false }, 'check.ts'));
  writeFileSync(
    join(runtimeDir, 'check.ts'),
    `import { createSession, decodeArtifact, encodeArtifact, syntheticRfdn, type RgbImage, type Session } from '@quantnas/runtime';
import * as browser from '@quantnas/runtime/browser';

const bytes: Uint8Array = encodeArtifact(syntheticRfdn({ channels: 12, cells: 1, scale: 2 }));
const scale: number = decodeArtifact(bytes).header.scale;
const session: Session = await createSession(bytes, { threads: 1, tile: 64 });
const image: RgbImage = { width: 4, height: 4, channels: 3, data: new Uint8Array(48) };
const out: RgbImage = await session.upscale(image);
const size: [number, number, number] = [out.width, out.height, scale];
const sameSession: typeof createSession = browser.createSession;
// The types are the package's own, not \`any\`: these must be errors.
// @ts-expect-error an image has 3 channels
const gray: RgbImage = { width: 1, height: 1, channels: 1, data: new Uint8Array(1) };
// @ts-expect-error upscale returns a promise
const notAwaited: RgbImage = session.upscale(image);
export { size, sameSession, gray, notAwaited };
`,
  );
  await runOk(process.execPath, [tsc, '-p', join(runtimeDir, 'tsconfig.json')], { cwd: runtimeDir, env: cliEnv() });
  log('a TypeScript program against the installed @quantnas/runtime type-checks (NodeNext, skipLibCheck off, no @types)');

  step = 'bump one package with changesets';
  await independentBump(packages);
}

/**
 * The changeset of the independent-bump check. A minor release of a 0.x package leaves the `^0.y.z`
 * ranges of its dependents, so changesets must release them too (a patch would not: every
 * dependent's range would still hold, and only the package itself would move).
 */
const BUMPED = '@quantnas/metrics';
const BUMP = 'minor';

/** x.y.z raised by a semver bump type. */
function bumpVersion(version, type) {
  const [major, minor, patch] = version.split('.').map(Number);
  return type === 'major' ? `${major + 1}.0.0` : type === 'minor' ? `${major}.${minor + 1}.0` : `${major}.${minor}.${patch + 1}`;
}

/** Whether x.y.z satisfies a caret range ^a.b.c (the only kind the workspace packages use). */
function satisfiesCaret(version, range) {
  const m = /^\^(\d+)\.(\d+)\.(\d+)$/.exec(range);
  if (!m) throw new StepError(`unexpected range ${range} between workspace packages`);
  const [a, b, c] = m.slice(1).map(Number);
  const [x, y, z] = version.split('.').map(Number);
  const atLeast = x > a || (x === a && (y > b || (y === b && z >= c)));
  const below = a > 0 ? x === a : b > 0 ? x === 0 && y === b : x === 0 && y === 0 && z === c;
  return atLeast && below;
}

/**
 * Packages are versioned independently: in a copy of this checkout (its files, the builds of its
 * packages, and no changeset but one: `BUMPED`: `BUMP`), `changeset version` and `changeset publish`
 * must put new versions of that package and of the dependents whose range it leaves (patches, as the
 * repo's `.changeset/config.json` has it: `updateInternalDependencies: patch`, no fixed or linked
 * groups) on the registry, with their ranges raised, and nothing else.
 * The packages were built and checked above; the copy publishes those builds, so its prepack
 * (which would build them again through nx in a folder without node_modules) is skipped.
 */
async function independentBump(packages) {
  const copy = join(tmp, 'repo-copy');
  const listed = (await runOk('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: root, env: cliEnv() })).stdout
    .toString()
    .split('\0')
    .filter(Boolean);
  for (const file of listed) {
    if (!existsSync(join(root, file)) || statSync(join(root, file)).isDirectory()) continue;
    mkdirSync(dirname(join(copy, file)), { recursive: true });
    copyFileSync(join(root, file), join(copy, file));
  }
  for (const p of packages) cpSync(join(root, p.dir, 'dist'), join(copy, p.dir, 'dist'), { recursive: true });
  const changesets = join(copy, '.changeset');
  for (const f of readdirSync(changesets)) if (f.endsWith('.md') && f !== 'README.md') rmSync(join(changesets, f));
  writeFileSync(join(changesets, 'registry-test-bump.md'), `---\n'${BUMPED}': ${BUMP}\n---\n\nA ${BUMP} release of ${BUMPED} alone.\n`);
  const gitEnv = {
    ...cliEnv(),
    GIT_AUTHOR_NAME: 'registry test',
    GIT_AUTHOR_EMAIL: 'registry-test@localhost',
    GIT_COMMITTER_NAME: 'registry test',
    GIT_COMMITTER_EMAIL: 'registry-test@localhost',
  };
  // changesets reads the commit that added each changeset for the changelog.
  await runOk('git', ['init', '-q'], { cwd: copy, env: gitEnv });
  await runOk('git', ['add', '-A'], { cwd: copy, env: gitEnv });
  await runOk('git', ['-c', 'commit.gpgsign=false', 'commit', '-q', '-m', 'the checkout, with one changeset'], { cwd: copy, env: gitEnv });

  const changeset = join(root, 'node_modules/@changesets/cli/bin.js');
  await runOk(process.execPath, [changeset, 'version'], { cwd: copy, env: { ...npmEnv(), ...gitEnv } });
  const after = new Map(packages.map((p) => [p.name, JSON.parse(readFileSync(join(copy, p.dir, 'package.json'), 'utf8'))]));
  const bumped = packages.filter((p) => after.get(p.name).version !== p.version);

  // The release plan the config implies, worked out here: the package at its bump, then every
  // package whose range of a released one no longer holds, as a patch, until nothing changes.
  const expected = new Map([[BUMPED, bumpVersion(packages.find((p) => p.name === BUMPED).version, BUMP)]]);
  for (let grown = true; grown;) {
    grown = false;
    for (const p of packages) {
      if (expected.has(p.name)) continue;
      const deps = { ...p.manifest.dependencies, ...p.manifest.optionalDependencies, ...p.manifest.peerDependencies };
      if (Object.entries(deps).some(([d, range]) => expected.has(d) && !satisfiesCaret(expected.get(d), range))) {
        expected.set(p.name, bumpVersion(p.version, 'patch'));
        grown = true;
      }
    }
  }
  const problems = [];
  const shown = (entries) =>
    entries
      .map(([n, v]) => `${n}@${v}`)
      .sort()
      .join(', ') || 'nothing';
  const got = bumped.map((p) => [p.name, after.get(p.name).version]);
  if (shown(got) !== shown([...expected])) problems.push(`changeset version released ${shown(got)}; expected ${shown([...expected])}`);
  for (const p of bumped) {
    // A released package's ranges of released packages are raised to their new versions; the rest stay.
    for (const [dep, range] of Object.entries(after.get(p.name).dependencies ?? {})) {
      const want = expected.has(dep) ? `^${expected.get(dep)}` : p.manifest.dependencies[dep];
      if (range !== want) problems.push(`${p.name} depends on ${dep} ${range}, not ${want}`);
    }
  }
  if (bumped.length < 2) problems.push(`the check released ${bumped.length} package(s): it should reach dependents (pick another BUMPED or BUMP)`);
  if (problems.length > 0) throw new StepError(`${problems.length} problem(s) after changeset version`, problems.join('\n'));

  step = 'publish the bump with changesets';
  await runOk(process.execPath, [changeset, 'publish', '--no-git-tag'], {
    cwd: copy,
    env: { ...npmEnv(), ...gitEnv, npm_config_ignore_scripts: 'true' },
    timeout: LIMITS.publish,
  });
  for (const p of packages) {
    const response = await fetch(`${registry.url}${p.name.replace('/', '%2f')}`, { signal: AbortSignal.timeout(10_000) });
    const doc = response.ok ? await response.json() : undefined;
    const versions = Object.keys(doc?.versions ?? {}).sort();
    const now = after.get(p.name).version;
    const want = now === p.version ? [p.version] : [p.version, now].sort();
    if (versions.join() !== want.join() || doc?.['dist-tags']?.latest !== now) {
      problems.push(
        `${p.name}: the registry has ${versions.join(', ') || 'nothing'} (latest ${doc?.['dist-tags']?.latest}); expected ${want.join(', ')} (latest ${now})`,
      );
    }
    if (now !== p.version) {
      const deps = doc.versions[now].dependencies ?? {};
      for (const [dep, range] of Object.entries(deps))
        if (after.has(dep) && range !== after.get(p.name).dependencies[dep]) problems.push(`${p.name}@${now} on the registry depends on ${dep} ${range}`);
    }
  }
  if (problems.length > 0) throw new StepError(`${problems.length} problem(s) on the registry after changeset publish`, problems.join('\n'));
  const unchanged = packages.filter((p) => !bumped.includes(p)).map((p) => `${p.name.split('/')[1]}@${p.version}`);
  log(
    `${BUMPED}: ${BUMP} with changesets: ${bumped.map((p) => `${p.name}@${after.get(p.name).version}`).join(', ')} published; the others kept theirs (${unchanged.join(', ')})`,
  );
}

/** A strict NodeNext project of one file that sees no @types packages. */
function tsconfig(options, file) {
  const compilerOptions = {
    target: 'ES2022',
    module: 'NodeNext',
    moduleResolution: 'NodeNext',
    lib: ['ES2022', 'DOM'],
    types: [],
    strict: true,
    noEmit: true,
    ...options,
  };
  return `${JSON.stringify({ compilerOptions, files: [file] }, null, 2)}\n`;
}

/** Compares NAME.installed.png and NAME.repo.png; returns the bytes. */
function compareOutputs(work, name) {
  const a = readFileSync(join(work, `${name}.installed.png`));
  const b = readFileSync(join(work, `${name}.repo.png`));
  if (!a.equals(b)) throw new StepError(`${name}.png: the installed CLI wrote other bytes than this checkout's (${a.length} against ${b.length} bytes)`);
  return a;
}

function withTimeout(promise, limit, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new StepError(`${what} took longer than ${limit} s`)), limit * 1000);
    }),
  ]);
}

async function cleanup() {
  for (const child of children) killGroup(child, 'SIGKILL');
  await stopRegistry().catch(() => {});
  if (tmp && existsSync(tmp)) {
    if (keep) console.log(`registry: kept ${tmp}`);
    else rmSync(tmp, { recursive: true, force: true });
  }
}

let finishing = false;
async function finish(code, error) {
  if (finishing) return;
  finishing = true;
  if (error) {
    const registryLog = registry?.output?.join('').trim();
    console.error(`registry: FAILED at "${step}" after ${seconds()} s: ${error.message}`);
    if (error.details) console.error(error.details.replace(/^/gm, '  | '));
    if (!(error instanceof StepError) && error.stack) console.error(error.stack);
    if (registryLog && !(error instanceof StepError && /verdaccio/.test(error.message)))
      console.error(`verdaccio said:\n${registryLog.split('\n').slice(-15).join('\n').replace(/^/gm, '  | ')}`);
  }
  await cleanup();
  if (!error) console.log(`registry: ok in ${seconds()} s`);
  process.exit(code);
}

for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => finish(130, new StepError(`interrupted by ${signal}`)));
}
const deadline = setTimeout(() => finish(1, new StepError(`the whole test took longer than ${LIMITS.total} s`)), LIMITS.total * 1000);
deadline.unref();

main().then(
  () => finish(0),
  (error) => finish(1, error),
);
