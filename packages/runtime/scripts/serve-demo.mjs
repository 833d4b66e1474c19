// A static server for the browser demo, on 127.0.0.1 only:
//   /                -> /demo/
//   /demo/...        -> demo/
//   /dist/browser/... -> the browser bundle and its kernel modules
//   /models/...      -> a folder of .qnas models, when given (--models DIR)
// Usage: node scripts/serve-demo.mjs [--port N] [--models DIR]  (npm run demo -- --models DIR)
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { dirname, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ensureBrowserBuild } from './build-browser.mjs';

const root = dirname(dirname(fileURLToPath(import.meta.url)));

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  // instantiateStreaming accepts nothing else.
  '.wasm': 'application/wasm',
  '.qnas': 'application/octet-stream',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
};

/** The file a URL path names under one of the mounts, or undefined (never outside a mount). */
function locate(mounts, pathname) {
  for (const [prefix, dir] of mounts) {
    if (!pathname.startsWith(prefix)) continue;
    const rest = pathname.slice(prefix.length) || 'index.html';
    const base = resolve(dir);
    const file = resolve(base, rest);
    if (file !== base && file.startsWith(base + sep)) return { file, base };
  }
  return undefined;
}

/**
 * The real path of a located file when it, after following every symbolic link, is still inside
 * its mount's real folder; else undefined. A link in the models folder to a system file is not
 * served.
 */
async function confine(located) {
  if (!located) return undefined;
  try {
    const [file, base] = await Promise.all([realpath(located.file), realpath(located.base)]);
    return file !== base && file.startsWith(base + sep) ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Starts the server; port 0 picks a free one. Resolves to { url, port, close() } once listening.
 * Builds the browser bundle first when it is missing or stale.
 */
export async function startDemoServer({ port = 0, models } = {}) {
  await ensureBrowserBuild();
  const mounts = [
    ['/demo/', join(root, 'demo')],
    ['/dist/browser/', join(root, 'dist/browser')],
    ...(models ? [['/models/', resolve(models)]] : []),
  ];
  const server = createServer(async (req, res) => {
    const send = (status, text) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    let pathname;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://127.0.0.1').pathname);
    } catch {
      return send(400, 'bad request');
    }
    if (pathname === '/' || pathname === '/demo') {
      res.writeHead(302, { location: '/demo/' });
      return res.end();
    }
    const file = await confine(locate(mounts, pathname));
    const info = file && (await stat(file).catch(() => undefined));
    if (!file || !info?.isFile()) return send(404, `not found: ${pathname}`);
    res.writeHead(200, {
      'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': info.size,
      // A development server: always the file as it is now.
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  });
  await new Promise((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  const actual = server.address().port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}/demo/`,
    close: () => new Promise((ok) => {
      server.closeAllConnections();
      server.close(() => ok());
    }),
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, models: { type: 'string' } } });
  const { url, close } = await startDemoServer({ port: Number(values.port), models: values.models });
  console.log(`QuantNAS runtime demo: ${url}`);
  if (values.models) console.log(`models from ${resolve(values.models)} at /models/ (e.g. ${url}?model=/models/NAME.qnas)`);
  console.log('Ctrl+C to stop');
  process.once('SIGINT', () => void close().then(() => process.exit(0)));
}
