// Test-only (exported under the `@quantnas/source` condition, never built): a real Redis for the
// tests of the queue, Debian's redis-server on 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the tests look for redis-server: `$QUANTNAS_REDIS_SERVER`, else Debian's `/usr/bin/redis-server`. */
export function redisServerPath(env: Record<string, string | undefined> = process.env): string {
  return env.QUANTNAS_REDIS_SERVER || '/usr/bin/redis-server';
}

/**
 * True when redis-server is installed; otherwise one warning that names what is skipped and false.
 * With QUANTNAS_REQUIRE_REDIS=1 (CI) a missing redis-server is an error instead, so that the queue's
 * tests cannot silently stop running.
 */
export function haveRedis(what: string, env: Record<string, string | undefined> = process.env): boolean {
  const path = redisServerPath(env);
  if (existsSync(path)) return true;
  const message = `${what}: no redis-server at ${path} (apt-get install redis-server, or set QUANTNAS_REDIS_SERVER).`;
  if (env.QUANTNAS_REQUIRE_REDIS === '1') throw new Error(`${message} QUANTNAS_REQUIRE_REDIS=1 makes this a failure.`);
  console.warn(`skipping ${message}`);
  return false;
}

export interface RedisServer {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Its data directory (the append-only file lives here). */
  readonly dir: string;
  /** Stops it (SIGTERM: it writes what it holds and exits) and waits for it to be gone. */
  stop(): Promise<void>;
  /** Starts it again on the same port and data directory, and waits until it answers. */
  start(): Promise<void>;
  /** `stop` then `start`. */
  restart(): Promise<void>;
}

/**
 * Starts redis-server on 127.0.0.1 on a free port, with a temporary data directory of its own and
 * every write persisted before it is acknowledged (`--appendonly yes --appendfsync always`, no RDB
 * snapshots), so a restart loses nothing; resolves once it answers PING.
 */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), 'quantnas-redis-'));
  let child: ChildProcess | undefined;
  const server: RedisServer = {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    async start() {
      if (child) return;
      const args = ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'always', '--save', ''];
      args.push('--logfile', join(dir, 'redis.log'), '--daemonize', 'no');
      const started = spawn(redisServerPath(), args, { stdio: 'ignore' });
      child = started;
      started.once('exit', () => {
        if (child === started) child = undefined;
      });
      await waitForPong(port, started, dir);
    },
    async stop() {
      const running = child;
      if (!running) return;
      const exited = new Promise<void>((resolve) => running.once('exit', () => resolve()));
      running.kill('SIGTERM');
      await exited;
      child = undefined;
    },
    async restart() {
      await server.stop();
      await server.start();
    },
  };
  await server.start();
  return server;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const address = s.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** Polls PING until `+PONG` (not `-LOADING` while the append-only file is read back). */
async function waitForPong(port: number, child: ChildProcess, dir: string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    const answer = await new Promise<string>((resolve) => {
      const socket = createConnection({ port, host: '127.0.0.1' });
      let data = '';
      socket.on('connect', () => socket.write('PING\r\n'));
      socket.on('data', (chunk) => {
        data += chunk.toString();
        if (data.includes('\r\n')) socket.end();
      });
      socket.on('error', () => resolve(''));
      socket.on('close', () => resolve(data));
    });
    if (answer.startsWith('+PONG')) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  const log = existsSync(join(dir, 'redis.log')) ? readFileSync(join(dir, 'redis.log'), 'utf8').trim().split('\n').slice(-3).join(' | ') : '';
  throw new Error(`redis-server on port ${port} did not answer PING${log ? `: ${log}` : ''}`);
}
