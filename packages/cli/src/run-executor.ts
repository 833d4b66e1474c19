import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseStageLine, type JobExecutor } from '@quantnas/sweep';

/** This command line's own executable (both src/ and dist/ sit one level below the package root). */
export const CLI_BIN = fileURLToPath(new URL('../bin/quantnas.js', import.meta.url));

/** How long a run stopped with SIGINT may take to reach its checkpoint before it is killed. */
const STOP_GRACE_MS = 60_000;

/**
 * The executor `quantnas sweep` and `quantnas worker` give the sweep engines: each job is
 * `node <this cli> run --out DIR ...args` in a child process of its own (a crash or a leak of one run
 * cannot touch the next). The child runs in its own process group, so a Ctrl-C at the terminal
 * reaches only this process, which forwards one SIGINT (the run stops at its next checkpoint); it is
 * killed with its group when this process exits, and it kills itself when this process dies without
 * exiting (SIGKILL), as it watches the IPC channel to its parent (bin/quantnas.js): an orphaned run
 * never keeps writing into a directory a retry may use. Its output goes to DIR/run.log; its stage
 * lines are the job's progress; a failure is the run's last `quantnas: ...` line.
 */
export function childRunExecutor(env: Record<string, string | undefined>, onChild?: (pid: number) => void): JobExecutor {
  return ({ dir, args, signal, onProgress }) =>
    new Promise<void>((resolve, reject) => {
      const log = createWriteStream(join(dir, 'run.log'), { flags: 'a' });
      const child = spawn(process.execPath, [CLI_BIN, 'run', '--out', dir, ...args], {
        detached: true,
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
        env: env as NodeJS.ProcessEnv,
      });
      if (child.pid !== undefined) onChild?.(child.pid);
      const tail: string[] = [];
      let pending = '';
      child.stdout!.on('data', (chunk: Buffer) => log.write(chunk));
      child.stderr!.on('data', (chunk: Buffer) => {
        log.write(chunk);
        pending += chunk.toString('utf8');
        const lines = pending.split(/\r?\n|\r/);
        pending = lines.pop() ?? '';
        for (const line of lines) {
          const progress = parseStageLine(line);
          if (progress) onProgress(progress);
          if (line.trim() !== '') tail.push(line);
          if (tail.length > 20) tail.shift();
        }
      });
      const killGroup = () => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
        } catch {
          // Already gone.
        }
      };
      let killTimer: NodeJS.Timeout | undefined;
      const stop = () => {
        child.kill('SIGINT');
        killTimer = setTimeout(killGroup, STOP_GRACE_MS);
      };
      if (signal.aborted) stop();
      else signal.addEventListener('abort', stop, { once: true });
      process.on('exit', killGroup);
      const done = () => {
        signal.removeEventListener('abort', stop);
        process.removeListener('exit', killGroup);
        if (killTimer) clearTimeout(killTimer);
        log.end();
      };
      child.once('error', (error) => {
        done();
        reject(error);
      });
      child.once('exit', (code, signalName) => {
        done();
        if (code === 0) return resolve();
        const said = [...tail].reverse().find((line) => line.startsWith('quantnas: ') && !line.startsWith('quantnas: set QUANTNAS_DEBUG'));
        const why = said?.slice('quantnas: '.length) ?? (signalName ? `quantnas run was killed by ${signalName}` : `quantnas run exited with code ${code}`);
        reject(new Error(`${why} (log: ${join(dir, 'run.log')})`));
      });
    });
}
