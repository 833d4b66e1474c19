// The browser demo's static server (Node only; `@quantnas/runtime/demo-server`), on 127.0.0.1 only:
//   /                 -> the demo page, with ?model= when a model is opened at start
//   /demo/...         -> the page (demo/ in the repository, dist/demo/ in the package)
//   /dist/browser/... -> the browser bundle and its kernel modules
//   /models/...       -> a folder of .qnas models, when given (`models`)
//   /model/NAME       -> one model file, when given (`model`), which the page opens at start
import { createReadStream, existsSync, statSync } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { basename, extname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package root: src/ and dist/ both sit one level below it. */
const packageRoot = fileURLToPath(new URL('..', import.meta.url));

const MIME: Readonly<Record<string, string>> = {
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

export interface DemoServerOptions {
  /** 0 (default) picks a free port. */
  readonly port?: number;
  /** A folder of models, served at /models/ (`?model=/models/NAME.qnas` opens one). */
  readonly models?: string;
  /** One model file, served at /model/NAME and opened by the page at start. */
  readonly model?: string;
  /** The NAME it is served as (default: the file's name); the page shows it. */
  readonly modelName?: string;
}

export interface DemoServer {
  readonly port: number;
  /** The demo page, http://127.0.0.1:PORT/demo/, with `?model=` when `model` was given. */
  readonly url: string;
  /** The URL path of `model` (decoded), when given. */
  readonly modelPath?: string;
  close(): Promise<void>;
}

/** A bad option: one line naming the path. */
export class DemoServerError extends Error {
  override readonly name = 'DemoServerError';
}

type Mount = readonly [prefix: string, dir: string];

/** The file a URL path names under one of the mounts, or undefined (never outside a mount). */
function locate(mounts: readonly Mount[], pathname: string): { file: string; base: string } | undefined {
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
 * its mount's real folder; else undefined. A link in the models folder to a system file is not served.
 */
async function confine(located: { file: string; base: string } | undefined): Promise<string | undefined> {
  if (!located) return undefined;
  try {
    const [file, base] = await Promise.all([realpath(located.file), realpath(located.base)]);
    return file !== base && file.startsWith(base + sep) ? file : undefined;
  } catch {
    return undefined;
  }
}

function kind(path: string): 'file' | 'dir' | undefined {
  try {
    const st = statSync(path);
    return st.isFile() ? 'file' : st.isDirectory() ? 'dir' : undefined;
  } catch {
    return undefined;
  }
}

/** Starts the server; resolves to { port, url, close() } once it listens. */
export async function startDemoServer(options: DemoServerOptions = {}): Promise<DemoServer> {
  const { port = 0, models, model, modelName = model !== undefined ? basename(model) : undefined } = options;
  if (models !== undefined && kind(models) !== 'dir') throw new DemoServerError(`${models}: not a folder of models`);
  if (model !== undefined && kind(model) !== 'file') throw new DemoServerError(`${model}: no such model file`);
  // The repository serves the page from its sources; an installed package ships it in dist/demo/.
  const demoDir = existsSync(join(packageRoot, 'demo', 'index.html')) ? join(packageRoot, 'demo') : join(packageRoot, 'dist', 'demo');
  const mounts: Mount[] = [
    ['/demo/', demoDir],
    ['/dist/browser/', join(packageRoot, 'dist', 'browser')],
    ...(models !== undefined ? [['/models/', resolve(models)] as const] : []),
  ];
  if (modelName !== undefined && (modelName === '' || /[/\\]/.test(modelName)))
    throw new DemoServerError(`model name '${modelName}': a file name, without '/'`);
  const modelPath = model !== undefined ? `/model/${modelName}` : undefined;
  const query = modelPath !== undefined ? `?model=${encodeURIComponent(modelPath)}` : '';
  const server = createServer(async (req, res) => {
    const send = (status: number, text: string) => {
      res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
      res.end(text);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed');
    let url: URL;
    let pathname: string;
    try {
      url = new URL(req.url ?? '/', 'http://127.0.0.1');
      pathname = decodeURIComponent(url.pathname);
    } catch {
      return send(400, 'bad request');
    }
    if (pathname === '/' || pathname === '/demo') {
      res.writeHead(302, { location: `/demo/${query}` });
      return res.end();
    }
    const file = modelPath !== undefined && pathname === modelPath ? resolve(model!) : await confine(locate(mounts, pathname));
    const info = file !== undefined ? await stat(file).catch(() => undefined) : undefined;
    if (file === undefined || !info?.isFile()) return send(404, `not found: ${pathname}`);
    res.writeHead(200, {
      'content-type': MIME[extname(file).toLowerCase()] ?? 'application/octet-stream',
      'content-length': info.size,
      // A development server: always the file as it is now.
      'cache-control': 'no-store',
    });
    if (req.method === 'HEAD') return res.end();
    createReadStream(file)
      .on('error', () => res.destroy())
      .pipe(res);
  });
  await new Promise<void>((ok, fail) => {
    server.once('error', fail);
    server.listen(port, '127.0.0.1', ok);
  });
  const address = server.address();
  const actual = typeof address === 'object' && address !== null ? address.port : port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}/demo/${query}`,
    ...(modelPath !== undefined ? { modelPath } : {}),
    close: () =>
      new Promise<void>((ok) => {
        server.closeAllConnections();
        server.close(() => ok());
      }),
  };
}
