import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { ensureBackend, tf, type BackendName } from '@quantnas/core-ops';
import { writeFileAtomicSync } from '@quantnas/data';
import { loadLatestCheckpoint, previousCheckpointPath, writeCheckpointFile, type LoadedCheckpoint, type StoredTensor } from './checkpoint.js';
import { eventLine, type SearchEvent, type TrainEvent } from './events.js';

/**
 * The skeleton the search and the training both run on: an output folder that is new, unfinished
 * (resume from its last good checkpoint) or finished (read back); an append-only event log cut
 * back to the checkpoint's length on resume; checkpoints on the epoch's end, every N steps and on
 * a stop request; wall time summed over resumed parts; atomic writes. Each job brings its own step.
 */

/** Where and how a job runs, besides its own settings. */
export interface JobOptions {
  /** Output directory (created if missing). */
  readonly out: string;
  /** Continue the run in `out` from its last good checkpoint (or read a finished one back). */
  readonly resume?: boolean;
  /** Data root holding the training sets; default: `resolveDataRoot()`'s search. */
  readonly dataRoot?: string;
  /** Backend to initialise; default: `ensureBackend`'s (the current one if any, else wasm). */
  readonly backend?: BackendName;
}

export interface JobHooks<E> {
  readonly onEvent?: (event: E) => void;
  /** Stops the run after the step in progress; a checkpoint is written first. */
  readonly signal?: AbortSignal;
  /** The worker script of `workers` > 1; default: the built package's (`defaultWorkerScript`). */
  readonly workerScript?: URL | string;
}

/** The part of a job's checkpointed state the skeleton keeps. */
export interface JobState {
  step: number;
  /** Wall time so far, resumed parts included. */
  seconds: number;
  /** Length of the event log when the checkpoint was written. */
  logBytes: number;
}

export interface JobFiles {
  readonly events: string;
  /** Written last: its presence marks the job finished. */
  readonly summary: string;
  readonly checkpoint: string;
}

/** What a job returns: its summary when finished, else where it stopped (a stop request, Ctrl-C). */
export type JobResult<Summary, Files> =
  | ({ readonly completed: true } & Summary)
  | { readonly completed: false; readonly step: number; readonly totalSteps: number; readonly checkpoint: string; readonly files: Files };

export interface JobKind {
  /** How messages name the job: "search", "training run". */
  readonly noun: string;
  readonly error: new (message: string) => Error;
}

export type JobFolder<S, Summary> =
  { readonly finished: Summary; readonly loaded?: undefined } | { readonly finished?: undefined; readonly loaded: LoadedCheckpoint<S> | undefined };

/**
 * What `dir` holds for a job about to run: a finished job's summary (only with `resume`), the
 * checkpoint to resume from, or nothing (a new job). Refuses to start over an unfinished or
 * finished job without `resume`; `otherFiles` are further files that mark a job as started.
 */
export function openJobFolder<S extends JobState, Summary>(
  dir: string,
  files: JobFiles,
  kind: JobKind,
  options: { readonly resume: boolean; readonly otherFiles?: readonly string[]; readonly requireCheckpoint?: boolean },
): JobFolder<S, Summary> {
  if (existsSync(files.summary)) {
    if (!options.resume)
      throw new kind.error(`${dir} already holds a finished ${kind.noun} (summary.json); choose another output directory, or resume to read it back`);
    return { finished: JSON.parse(readFileSync(files.summary, 'utf8')) as Summary };
  }
  if (!options.resume) {
    const started = [files.checkpoint, previousCheckpointPath(files.checkpoint), files.events, ...(options.otherFiles ?? [])];
    if (started.some((p) => existsSync(p))) throw new kind.error(`${dir} holds an unfinished ${kind.noun}; resume it, or choose another output directory`);
    return { loaded: undefined };
  }
  const loaded = loadLatestCheckpoint<S>(files.checkpoint);
  if (!loaded && options.requireCheckpoint) throw new kind.error(`${dir} has no checkpoint of a ${kind.noun} to resume`);
  return { loaded };
}

/**
 * The backend a job runs on: the one asked for, else the one already selected, else the default;
 * data-parallel workers start their own, which only wasm and cpu can.
 */
export async function jobBackend(requested: BackendName | undefined, workers: number, kind: JobKind): Promise<string> {
  const backend = (await ensureBackend(requested)).name;
  if (workers > 1 && backend !== 'wasm' && backend !== 'cpu') {
    throw new kind.error(`workers > 1 needs the wasm or cpu backend (each worker thread starts its own), not ${backend}`);
  }
  return backend;
}

type JobEvent = SearchEvent | TrainEvent;

/** A running job's event log, notes, checkpoints and clock. */
export class JobRun<S extends JobState, E extends JobEvent> {
  private readonly log: number;
  private logBytes: number;
  private lapStart = performance.now();
  /** Messages collected before the log opened (data notes, resume notes); `flushNotes` emits them. */
  private readonly notes: string[] = [];

  constructor(
    private readonly files: JobFiles,
    readonly state: S,
    resumed: LoadedCheckpoint<S> | undefined,
    notes: readonly string[],
    private readonly onEvent?: (event: E) => void,
  ) {
    this.notes.push(...notes);
    if (resumed?.fellBackFrom) {
      // Set the bad file aside: the next checkpoint must not turn it into the `.prev` one.
      renameSync(resumed.fellBackFrom.path, `${resumed.fellBackFrom.path}.corrupt`);
      this.notes.push(`${resumed.fellBackFrom.reason}; resuming from the previous checkpoint ${resumed.path} (step ${state.step})`);
    }
    if (resumed) {
      // Events after the checkpoint belong to steps that run again: cut them.
      this.log = openSync(files.events, existsSync(files.events) ? 'r+' : 'w');
      ftruncateSync(this.log, Math.min(state.logBytes, statSync(files.events).size));
    } else {
      this.log = openSync(files.events, 'w');
    }
    this.logBytes = state.logBytes;
  }

  emit(event: E): void {
    const line = Buffer.from(eventLine(event), 'utf8');
    writeSync(this.log, line, 0, line.length, this.logBytes);
    this.logBytes += line.length;
    this.onEvent?.(event);
  }

  flushNotes(): void {
    for (const message of this.notes.splice(0)) this.emit({ status: 'note', message } as E);
  }

  /** Adds the time since the last lap to `state.seconds`. */
  lap(): void {
    const now = performance.now();
    this.state.seconds += (now - this.lapStart) / 1000;
    this.lapStart = now;
  }

  /** Wall time so far, the running lap included. */
  get seconds(): number {
    return this.state.seconds + (performance.now() - this.lapStart) / 1000;
  }

  /** Bytes of the event log written so far: what a checkpoint written now records. */
  get logLength(): number {
    return this.logBytes;
  }

  async saveCheckpoint(tensors: Map<string, StoredTensor>, epoch: number): Promise<void> {
    this.state.logBytes = this.logBytes;
    writeCheckpointFile(this.files.checkpoint, { state: this.state, tensors });
    this.emit({ status: 'checkpoint', epoch, step: this.state.step, path: this.files.checkpoint } as E);
  }

  /**
   * The steps from `state.step` to `totalSteps`: each step, then the epoch's end when one closes,
   * then the lap; a checkpoint at an epoch's end, every `every` steps and when `signal` asks to stop.
   * Returns false when stopped early (after writing a checkpoint), true when every step ran.
   */
  async runSteps(loop: {
    readonly totalSteps: number;
    readonly stepsPerEpoch: number;
    readonly every: number;
    readonly signal?: AbortSignal | undefined;
    step(epoch: number): Promise<void>;
    endEpoch(epoch: number): Promise<void>;
    snapshot(): Promise<Map<string, StoredTensor>>;
  }): Promise<boolean> {
    const { state } = this;
    while (state.step < loop.totalSteps) {
      const epoch = Math.floor(state.step / loop.stepsPerEpoch);
      await loop.step(epoch);
      const epochEnd = state.step % loop.stepsPerEpoch === 0;
      if (epochEnd) await loop.endEpoch(epoch);
      this.lap();
      const stopping = loop.signal?.aborted === true && state.step < loop.totalSteps;
      if (epochEnd || state.step % loop.every === 0 || stopping) await this.saveCheckpoint(await loop.snapshot(), Math.floor(state.step / loop.stepsPerEpoch));
      if (stopping) return false;
    }
    return true;
  }

  /** Writes the summary last: its presence marks the job finished. */
  finish(summary: unknown): void {
    writeFileAtomicSync(this.files.summary, JSON.stringify(summary, null, 2) + '\n');
  }

  close(): void {
    closeSync(this.log);
  }
}

/** Reads tensors into a checkpoint's map under `prefix/name` keys, group by group, in order. */
export async function storedTensors(
  groups: Iterable<readonly [prefix: string, tensors: Iterable<readonly [string, tf.Tensor]>]>,
): Promise<Map<string, StoredTensor>> {
  const out = new Map<string, StoredTensor>();
  for (const [prefix, tensors] of groups) {
    for (const [name, t] of tensors) out.set(`${prefix}/${name}`, { shape: t.shape, data: Float32Array.from(await t.data()) });
  }
  return out;
}

/** How `assignStoredVariables` words its errors: "SOURCE has a variable 'x' that this NETWORK lacks: HINT". */
export interface StoredVariablesSource {
  readonly source: string;
  readonly network: string;
  readonly hint: string;
  readonly error: new (message: string) => Error;
}

/** Writes a checkpoint's `var/…` tensors into `variables`; every variable must be there, with its shape. */
export function assignStoredVariables(
  variables: ReadonlyMap<string, tf.Variable>,
  tensors: ReadonlyMap<string, StoredTensor>,
  from: StoredVariablesSource,
): void {
  const seen = new Set<string>();
  for (const [key, stored] of tensors) {
    if (!key.startsWith('var/')) continue;
    const name = key.slice(4);
    const v = variables.get(name);
    if (!v) throw new from.error(`${from.source} has a variable '${name}' that this ${from.network} lacks: ${from.hint}`);
    if (v.shape.join('x') !== stored.shape.join('x'))
      throw new from.error(`${from.source}: '${name}' has shape [${stored.shape.join(', ')}], the ${from.network}'s [${v.shape.join(', ')}]`);
    const value = tf.tensor(stored.data, [...stored.shape]);
    v.assign(value);
    value.dispose();
    seen.add(name);
  }
  const missing = [...variables.keys()].filter((k) => !seen.has(k));
  if (missing.length > 0)
    throw new from.error(`${from.source} lacks variables of this ${from.network} (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', …' : ''})`);
}
