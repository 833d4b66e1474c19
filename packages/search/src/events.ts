/**
 * Progress of long jobs as status-tagged events: the CLI renders them as progress bars and writes
 * them one per line to `search.jsonl` / `train.jsonl`; API callers receive them in a callback.
 */
/** The arg-max (op, bits) per block. */
export type GenotypeBlocks = Readonly<Record<string, { readonly op: string; readonly bits: number }>>;

export type SearchEvent =
  | {
      readonly status: 'start';
      readonly space: string;
      readonly backend: string;
      readonly epochs: number;
      readonly stepsPerEpoch: number;
      readonly seed: number;
      readonly mode?: string;
      readonly totalSteps?: number;
      /** Set when the run continues from a checkpoint. */
      readonly resumedFromStep?: number;
      readonly checkpoint?: string;
    }
  | {
      readonly status: 'step';
      readonly epoch: number;
      /** Steps completed (1-based). */
      readonly step: number;
      readonly totalSteps?: number;
      readonly wLoss: number;
      /** The w learning rate of the step. */
      readonly lr?: number;
      /** α step only (after the warm-up): the α objective and its terms, B(α) before the step. */
      readonly alphaLoss?: number;
      readonly alphaL1?: number;
      readonly entropy?: number;
      readonly entropyTerm?: number;
      readonly penaltyTerm?: number;
      readonly expectedBitops?: number;
      /** With a latency penalty: λ_L·L(α)/L(α₀), and L(α) in the table's milliseconds. */
      readonly latencyTerm?: number;
      readonly expectedLatencyMs?: number;
    }
  | {
      readonly status: 'epoch';
      readonly epoch: number;
      readonly wLoss: number;
      readonly alphaLoss?: number;
      readonly entropy: number;
      /** The least decided block's largest pair probability (1 = every block has made its choice). */
      readonly topProbability?: number;
      readonly expectedBitops: number;
      /** BitOps of the arg-max genotype's network at 32×32 LR, fixed layers included. */
      readonly exactBitops?: number;
      readonly validationPsnr?: number;
      /** Whether this epoch's genotype is the best-validation one so far. */
      readonly best?: boolean;
      /** Wall time of the search so far, resumed parts included. */
      readonly seconds?: number;
      /** The arg-max (op, bits) per block at the end of the epoch. */
      readonly genotype: GenotypeBlocks;
    }
  | { readonly status: 'checkpoint'; readonly epoch: number; readonly step: number; readonly path: string }
  | { readonly status: 'note'; readonly message: string }
  | { readonly status: 'done'; readonly genotypePath: string; readonly bestGenotypePath?: string; readonly seconds: number };

export type TrainEvent =
  | {
      readonly status: 'start';
      readonly backend: string;
      readonly epochs: number;
      readonly stepsPerEpoch: number;
      readonly seed: number;
      readonly space?: string;
      readonly totalSteps?: number;
      /** Set when the run continues from a checkpoint. */
      readonly resumedFromStep?: number;
      readonly checkpoint?: string;
    }
  | { readonly status: 'step'; readonly epoch: number; readonly step: number; readonly loss: number; readonly lr: number; readonly totalSteps?: number }
  | {
      readonly status: 'epoch';
      readonly epoch: number;
      readonly loss: number;
      readonly validationPsnr: number;
      readonly best: boolean;
      readonly bestValidationPsnr?: number;
      /** Wall time of the training so far, resumed parts included. */
      readonly seconds?: number;
    }
  | { readonly status: 'checkpoint'; readonly epoch: number; readonly step: number; readonly path: string }
  | { readonly status: 'note'; readonly message: string }
  | {
      readonly status: 'done';
      readonly checkpointPath: string;
      readonly bestValidationPsnr: number;
      readonly seconds: number;
      readonly bestCheckpointPath?: string;
      readonly bestEpoch?: number;
    };

/** One event as a JSONL line. */
export function eventLine(event: SearchEvent | TrainEvent): string {
  return JSON.stringify(event) + '\n';
}

/**
 * Reads an event log back. A run killed mid-write can leave a torn last line: it is dropped; a
 * malformed line anywhere else means the log was damaged and is reported with its line number.
 */
export function parseEventLog<E extends { status: string }>(text: string, source = 'event log'): E[] {
  const lines = text.split('\n');
  const events: E[] = [];
  lines.forEach((line, index) => {
    if (line.trim() === '') return;
    const isLast = lines.slice(index + 1).every((l) => l.trim() === '');
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      if (isLast && !text.endsWith('\n')) return;
      throw new Error(`${source}: line ${index + 1} is not valid JSON`);
    }
    if (typeof value !== 'object' || value === null || typeof (value as { status?: unknown }).status !== 'string') {
      throw new Error(`${source}: line ${index + 1} is not an event (no "status")`);
    }
    events.push(value as E);
  });
  return events;
}
