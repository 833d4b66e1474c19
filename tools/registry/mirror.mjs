// The third-party packages the public workspace packages need at run time, for a registry that has
// no uplinks (tools/registry-test.mjs): the closure of their dependencies as package-lock.json
// resolves it, each packed again from this checkout's node_modules/ and published over the npm
// registry protocol. Nothing is downloaded.
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { gzip } from 'node:zlib';

const gzipAsync = promisify(gzip);

/**
 * The third-party packages (name, version, folder) that installing the workspace packages in
 * `workspaceDirs` (folders relative to the root, as the lockfile names them) pulls in: their dependencies, optional dependencies and required peers, transitively, resolved the
 * way Node finds them in the lockfile's tree. Optional ones missing on disk (another platform's) are
 * left out; a required one missing is an error.
 */
export function thirdPartyClosure(root, workspaceDirs) {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const nodes = lock.packages ?? {};
  const out = new Map();
  const seen = new Set();
  const queue = [...workspaceDirs];
  for (const key of queue) if (!nodes[key]) throw new Error(`package-lock.json has no entry for ${key}: run npm install`);
  while (queue.length > 0) {
    const key = queue.pop();
    if (seen.has(key)) continue;
    seen.add(key);
    const node = nodes[key];
    const wanted = new Map();
    for (const name of Object.keys(node.dependencies ?? {})) wanted.set(name, false);
    for (const name of Object.keys(node.optionalDependencies ?? {})) wanted.set(name, true);
    for (const name of Object.keys(node.peerDependencies ?? {})) {
      if (!node.peerDependenciesMeta?.[name]?.optional && !wanted.has(name)) wanted.set(name, false);
    }
    for (const [name, optional] of wanted) {
      const found = resolveInLock(nodes, key, name);
      if (found === undefined || !exists(join(root, found))) {
        if (optional) continue;
        throw new Error(`${key || 'the root'} needs ${name}, which is not installed under ${root}: run npm ci`);
      }
      const target = nodes[found];
      if (target.link) {
        queue.push(target.resolved);
        continue;
      }
      if (!out.has(found)) out.set(found, { name, version: target.version, dir: join(root, found) });
      queue.push(found);
    }
  }
  return [...out.values()];
}

/** Node's lookup: `from/node_modules/name`, then the same in every enclosing package folder. */
function resolveInLock(nodes, from, name) {
  let dir = from;
  for (;;) {
    const candidate = `${dir === '' ? '' : `${dir}/`}node_modules/${name}`;
    if (nodes[candidate]) return candidate;
    if (dir === '') return undefined;
    dir = dirname(dir);
    if (dir === '.') dir = '';
    if (dir.endsWith('/node_modules') || dir === 'node_modules') dir = dirname(dir) === '.' ? '' : dirname(dir);
  }
}

function exists(path) {
  try {
    lstatSync(path);
    return true;
  } catch {
    return false;
  }
}

/** The files of an installed package folder, its own nested node_modules/ left out. */
function packageFiles(dir) {
  const out = [];
  const walk = (sub) => {
    for (const entry of readdirSync(join(dir, sub), { withFileTypes: true })) {
      const rel = sub === '' ? entry.name : `${sub}/${entry.name}`;
      if (sub === '' && entry.name === 'node_modules') continue;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) out.push(rel);
    }
  };
  walk('');
  return out.sort();
}

// The fixed time npm itself stamps into package tarballs.
const MTIME = Math.floor(Date.UTC(1985, 9, 26, 8, 15) / 1000);

function octal(value, width) {
  return value.toString(8).padStart(width - 1, '0') + '\0';
}

function header(name, size, mode, type = '0', prefix = '') {
  const block = Buffer.alloc(512);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(mode, 8), 100, 8, 'ascii');
  block.write(octal(0, 8), 108, 8, 'ascii');
  block.write(octal(0, 8), 116, 8, 'ascii');
  block.write(octal(size, 12), 124, 12, 'ascii');
  block.write(octal(MTIME, 12), 136, 12, 'ascii');
  block.fill(' ', 148, 156);
  block.write(type, 156, 1, 'ascii');
  block.write('ustar\0', 257, 6, 'ascii');
  block.write('00', 263, 2, 'ascii');
  block.write(prefix, 345, 155, 'utf8');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(octal(sum, 7) + ' ', 148, 8, 'ascii');
  return block;
}

function pad(length) {
  return Buffer.alloc((512 - (length % 512)) % 512);
}

/** A ustar entry name, split into prefix and name where it is long; a pax header where it cannot be. */
function entryHeaders(path, size, mode) {
  if (Buffer.byteLength(path) <= 100) return [header(path, size, mode)];
  const cut = path.lastIndexOf('/', path.length - 1);
  for (let i = cut; i > 0; i = path.lastIndexOf('/', i - 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100) return [header(name, size, mode, '0', prefix)];
  }
  let record = ` path=${path}\n`;
  let length = Buffer.byteLength(record);
  for (;;) {
    const total = length + String(length).length;
    if (String(total).length === String(length).length) {
      record = `${total}${record}`;
      break;
    }
    length += 1;
  }
  const body = Buffer.from(record, 'utf8');
  return [header('PaxHeader', body.length, 0o644, 'x'), body, pad(body.length), header(path.slice(-100), size, mode)];
}

/** An npm package tarball (gzipped tar, every path under `package/`) of an installed package folder. */
export async function packFolder(dir) {
  const parts = [];
  for (const rel of packageFiles(dir)) {
    const path = join(dir, rel);
    const data = readFileSync(path);
    const mode = lstatSync(path).mode & 0o111 ? 0o755 : 0o644;
    parts.push(...entryHeaders(`package/${rel}`, data.length, mode), data, pad(data.length));
  }
  parts.push(Buffer.alloc(1024));
  return gzipAsync(Buffer.concat(parts), { level: 1 });
}

/** Publishes one tarball the way `npm publish` does: a PUT of the version's manifest with the tarball attached. */
export async function publishTarball(registry, manifest, tarball, { timeoutMs = 60_000 } = {}) {
  const { name, version } = manifest;
  const file = `${name}-${version}.tgz`;
  const integrity = `sha512-${createHash('sha512').update(tarball).digest('base64')}`;
  const shasum = createHash('sha1').update(tarball).digest('hex');
  const escaped = name.replace('/', '%2f');
  const body = {
    _id: name,
    name,
    description: manifest.description ?? '',
    'dist-tags': { latest: version },
    versions: {
      [version]: {
        ...manifest,
        _id: `${name}@${version}`,
        dist: { integrity, shasum, tarball: `${registry}${escaped}/-/${file.slice(file.lastIndexOf('/') + 1)}` },
      },
    },
    _attachments: { [file]: { content_type: 'application/octet-stream', data: tarball.toString('base64'), length: tarball.length } },
  };
  const response = await fetch(`${registry}${escaped}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', accept: 'application/json' },
    body: JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  if (!response.ok) throw new Error(`publishing ${name}@${version} to the local registry: HTTP ${response.status} ${await response.text()}`);
}

/**
 * Packs and publishes every package of `packages` ({ name, version, dir }); versions of one name go
 * up in ascending order, different names `concurrency` at a time. Returns the bytes published.
 */
export async function mirrorPackages(registry, packages, { concurrency = 4 } = {}) {
  const byName = new Map();
  for (const p of packages) byName.set(p.name, [...(byName.get(p.name) ?? []), p]);
  const groups = [...byName.values()].map((group) => group.sort((a, b) => compareVersions(a.version, b.version)));
  let bytes = 0;
  let next = 0;
  const worker = async () => {
    while (next < groups.length) {
      const group = groups[next++];
      for (const p of group) {
        const manifest = JSON.parse(readFileSync(join(p.dir, 'package.json'), 'utf8'));
        if (manifest.name !== p.name || manifest.version !== p.version) {
          throw new Error(`${p.dir} holds ${manifest.name}@${manifest.version}, the lockfile says ${p.name}@${p.version}: run npm ci`);
        }
        const tarball = await packFolder(p.dir);
        bytes += tarball.length;
        await publishTarball(registry, manifest, tarball);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return bytes;
}

function compareVersions(a, b) {
  const pa = a.split(/[.+-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  const pb = b.split(/[.+-]/).map((x) => (/^\d+$/.test(x) ? Number(x) : x));
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    if (pa[i] === pb[i]) continue;
    if (pa[i] === undefined) return -1;
    if (pb[i] === undefined) return 1;
    return typeof pa[i] === 'number' && typeof pb[i] === 'number' ? pa[i] - pb[i] : String(pa[i]) < String(pb[i]) ? -1 : 1;
  }
  return 0;
}
