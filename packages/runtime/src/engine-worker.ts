import { parentPort } from 'node:worker_threads';
import { contextFromShared } from './engine.js';
import { validateArtifact } from './graph.js';
import type { WorkerReply, WorkerRequest } from './node-pool.js';
import { planGraph } from './plan.js';
import { TileExecutor } from './tile-executor.js';
import type { RunContext } from './tile-executor.js';
import { loadIntegerKernels } from './wasm-kernels.js';

// A worker of NodeTilePool: its own kernels and executor, fed one tile at a time.
let executor: TileExecutor | undefined;
let current: { pass: number; ctx: RunContext } | undefined;

const port = parentPort!;
port.on('message', (message: WorkerRequest) => {
  void handle(message).then(
    () => port.postMessage({ type: message.type === 'init' ? 'ready' : 'done' } satisfies WorkerReply),
    (error: unknown) => port.postMessage({ type: 'error', message: error instanceof Error ? error.message : String(error) } satisfies WorkerReply),
  );
});

async function handle(message: WorkerRequest): Promise<void> {
  if (message.type === 'init') {
    const graph = validateArtifact(message.artifact);
    const kernels = await loadIntegerKernels({
      ...(message.kernels.source !== undefined ? { source: message.kernels.source } : {}),
      ...(message.kernels.relaxedSource !== undefined ? { relaxedSource: message.kernels.relaxedSource } : {}),
      ...(message.kernels.relaxedSimd !== undefined ? { relaxedSimd: message.kernels.relaxedSimd } : {}),
    });
    executor = new TileExecutor(graph, planGraph(graph, { memory: message.memory }), kernels);
  } else if (message.type === 'pass') {
    current = { pass: message.pass, ctx: contextFromShared(message.ctx) };
  } else {
    executor!.run(current!.pass, message.tile, current!.ctx);
  }
}
