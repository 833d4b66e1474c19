import cliProgress from 'cli-progress';
import type { CliIo } from './io.js';

export interface Progress {
  /** Sets the bar to `value` of `total`, with a short label shown after it. */
  update(value: number, total: number, label: string): void;
  stop(): void;
}

/**
 * A progress bar with ETA on an interactive terminal, nothing otherwise (scripts, CI, --json pipes);
 * `unit` names what is counted (`step 3 of 10`).
 */
export function createProgress(io: CliIo, title: string, unit = 'step'): Progress {
  if (!io.interactive) return { update: () => {}, stop: () => {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% | ${unit} {value} of {total} | ETA {eta_formatted} | {label}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(value, total, label) {
      if (!started) {
        bar.start(total, value, { label });
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(value, { label });
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}

/** A progress bar over bytes (MiB done of total, rate and ETA) on an interactive terminal, nothing otherwise. */
export function createByteProgress(io: CliIo, title: string): Progress {
  if (!io.interactive) return { update: () => {}, stop: () => {} };
  const mib = (bytes: number) => (bytes / 1048576).toFixed(1);
  const bar = new cliProgress.SingleBar(
    {
      format: `${title} [{bar}] {percentage}% | {done}/{all} MiB | ETA {eta_formatted} | {label}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 200,
    },
    cliProgress.Presets.shades_classic,
  );
  let started = false;
  return {
    update(value, total, label) {
      const payload = { label, done: mib(value), all: mib(total) };
      if (!started) {
        bar.start(total, value, payload);
        started = true;
      } else {
        bar.setTotal(total);
        bar.update(value, payload);
      }
    },
    stop() {
      if (started) bar.stop();
    },
  };
}
