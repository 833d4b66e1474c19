import { Command } from 'commander';
import { bicubicUpscale, resolveDataRoot } from '@quantnas/data';
import { evaluate, standardProtocol, type EvaluationResult, type SrModel } from '@quantnas/metrics';
import { UsageError, type CliIo } from '../io.js';
import { parseScale, parseSetList } from '../options.js';
import { createProgress } from '../progress.js';
import { renderTable } from '../table.js';

const MODELS: Record<string, (scale: number) => SrModel> = {
  bicubic: (scale) => ({ name: 'bicubic', upscale: (lr) => bicubicUpscale(lr, scale) }),
};

interface EvalOptions {
  model: string;
  scale: string;
  sets: string;
  data?: string;
  lrSource?: string;
  json?: boolean;
  perImage?: boolean;
}

export function evalCommand(io: CliIo): Command {
  return new Command('eval')
    .summary('PSNR/SSIM of a model on the standard SR benchmarks')
    .description(
      'Upscales every LR image of the chosen benchmark sets with a model and measures PSNR and SSIM ' +
        'against the HR image with the standard protocol: BT.601 Y channel (grayscale images on their ' +
        'gray values), output rounded to uint8, `scale` pixels shaved from every border.',
    )
    .requiredOption('--model <name>', `model to evaluate (${Object.keys(MODELS).join(', ')})`)
    .option('--scale <s>', 'upscaling factor', '4')
    .option('--sets <list>', 'comma-separated benchmark sets', 'Set5,Set14,B100')
    .option('--data <dir>', 'data root holding the sets (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--lr-source <id>', 'LR source for sets that list several (Set5); default: the first listed')
    .option('--per-image', 'also list every image (table) or include `perImage` (JSON)')
    .option('--json', 'print one JSON object on stdout instead of a table')
    .action(async (options: EvalOptions) => {
      const scale = parseScale(options.scale);
      const sets = parseSetList(options.sets);
      const makeModel = MODELS[options.model];
      if (!makeModel) {
        throw new UsageError(`unknown model '${options.model}' (available: ${Object.keys(MODELS).join(', ')})`);
      }
      const root = resolveDataRoot({ explicit: options.data, env: io.env });
      const progress = createProgress(io, `eval ${options.model} x${scale}`);
      let result: EvaluationResult;
      try {
        result = await evaluate({
          model: makeModel(scale),
          scale,
          sets,
          root,
          protocol: standardProtocol(scale),
          lrSource: options.lrSource,
          onProgress: (event) => {
            if (event.status === 'image') progress.update(event.index + 1, event.total, `${event.set}/${event.image}`);
          },
        });
      } finally {
        progress.stop();
      }
      if (options.json) io.stdout(JSON.stringify(toJson(result, Boolean(options.perImage))) + '\n');
      else io.stdout(toTable(result, Boolean(options.perImage)));
    });
}

function toJson(result: EvaluationResult, perImage: boolean) {
  const sets = Object.fromEntries(
    Object.entries(result.sets).map(([name, s]) => [
      name,
      { psnr: round(s.psnr, 4), ssim: round(s.ssim, 5), images: s.images, ...(perImage ? { perImage: s.perImage } : {}) },
    ]),
  );
  return { model: result.model, scale: result.scale, protocol: result.protocol, sets };
}

function toTable(result: EvaluationResult, perImage: boolean): string {
  const rows: string[][] = [];
  for (const [name, s] of Object.entries(result.sets)) {
    if (perImage) {
      for (const img of s.perImage) rows.push([`  ${name}/${img.image}`, '', img.psnr.toFixed(2), img.ssim.toFixed(4)]);
    }
    rows.push([name, String(s.images), s.psnr.toFixed(2), s.ssim.toFixed(4)]);
  }
  const title = `${result.model} x${result.scale} (Y channel, shave ${result.protocol.shave}, uint8)\n`;
  return title + renderTable(['set', 'images', 'PSNR dB', 'SSIM'], rows);
}

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
