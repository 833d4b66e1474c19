import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import { checkOutputPath, writeOutputFile } from '@quantnas/data';
import { UsageError, type CliIo } from '../io.js';
import { parseWith } from '../options.js';
import { TRAIN_USER_ERRORS } from './train.js';

interface ExportCommandOptions {
  out: string;
  checkpoint: string;
  force?: boolean;
  backend?: string;
  json?: boolean;
}

export function exportCommand(io: CliIo): Command {
  return new Command('export')
    .summary('export a trained network as an integer model (.qnas) for the runtime')
    .description(
      'Loads the best-validation checkpoint of a training directory (quantnas train) into its QAT network ' +
        'and writes the integer model that `quantnas upscale` and @quantnas/runtime run. The file is ' +
        'written atomically; an existing one is kept unless --force.',
    )
    .argument('<dir>', 'training directory (holds best.qnc)')
    .requiredOption('--out <file>', 'model file to write (.qnas)')
    .option('--checkpoint <which>', 'best (the best validation epoch) or last (the newest checkpoint)', 'best')
    .option('--force', 'replace an existing --out file')
    .option('--backend <name>', 'tfjs backend for loading the network (default wasm)')
    .option('--json', 'print one JSON object on stdout')
    .action(async (dir: string, options: ExportCommandOptions) => {
      if (options.checkpoint !== 'best' && options.checkpoint !== 'last')
        throw new UsageError(`--checkpoint must be best or last, got '${options.checkpoint}'`);
      const out = resolve(options.out);
      await checkOutputPath(out, { force: options.force === true, inputs: [join(resolve(dir), 'best.qnc')] });
      if (!existsSync(dirname(out))) throw new UsageError(`${dirname(out)}: no such directory`);
      const { bytes, loaded } = await exportTraining(dir, { checkpoint: options.checkpoint, backend: options.backend });
      await writeOutputFile(out, bytes, { force: options.force === true });
      const json = {
        model: out,
        bytes: bytes.byteLength,
        checkpoint: loaded.path,
        epoch: loaded.epoch,
        validation_psnr: loaded.validationPsnr,
        space: loaded.target.spec.id,
        scale: loaded.target.genotype.scale,
      };
      if (options.json) io.stdout(JSON.stringify(json) + '\n');
      else {
        io.stdout(
          `wrote ${out} (${bytes.byteLength} bytes; ${loaded.target.spec.id} x${loaded.target.genotype.scale}, ` +
            `${options.checkpoint === 'best' ? `best epoch ${loaded.epoch}` : `step ${loaded.step}`} of ${resolve(dir)})\n`,
        );
      }
    });
}

/** What `exportTraining` made: the model file's bytes and the checkpoint they came from. */
export interface ExportedTraining {
  readonly bytes: Uint8Array;
  readonly loaded: Pick<import('@quantnas/search').TrainedNetwork, 'path' | 'epoch' | 'step' | 'validationPsnr' | 'target'>;
}

/** The integer model of a training directory's best (or last) checkpoint; `quantnas export` and `quantnas run` write it. */
export async function exportTraining(
  dir: string,
  options: { readonly checkpoint: 'best' | 'last'; readonly backend?: string | undefined },
): Promise<ExportedTraining> {
  const core = await import('@quantnas/core-ops');
  const search = await import('@quantnas/search');
  await core.ensureBackend(options.backend === undefined ? undefined : parseWith(core.parseBackendName, options.backend, '--backend'));
  let loaded: import('@quantnas/search').TrainedNetwork;
  try {
    loaded = await search.loadTrainedNetwork(dir, { checkpoint: options.checkpoint });
    try {
      const bytes = await search.exportModel(loaded.network, {
        spec: loaded.target.spec,
        genotype: loaded.target.genotype,
        metadata: {
          // No path: a model file travels, and would carry the folders of the machine that made it.
          training: {
            checkpoint: options.checkpoint,
            epoch: loaded.epoch,
            step: loaded.step,
            validationPsnr: loaded.validationPsnr,
            adq: loaded.target.adq,
          },
        },
      });
      return { bytes, loaded };
    } finally {
      loaded.network.dispose();
    }
  } catch (error) {
    if (error instanceof Error && TRAIN_USER_ERRORS.has(error.name)) throw new UsageError(error.message.split('\n')[0]!);
    throw error;
  }
}
