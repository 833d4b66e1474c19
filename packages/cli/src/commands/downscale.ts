import { Command } from 'commander';
import { checkOutputPath, DataError, imresize, modcrop, readImage, writePng } from '@quantnas/data';
import type { CliIo } from '../io.js';
import { parseScale } from '../options.js';

export function downscaleCommand(io: CliIo): Command {
  return new Command('downscale')
    .summary('make an LR image the way the benchmarks do (MATLAB bicubic)')
    .description(
      'Crops HR to a multiple of the scale (modcrop) and shrinks it with MATLAB-exact antialiased ' +
        'bicubic, rounding to uint8 after each pass: the same files as the benchmark LR sets.',
    )
    .requiredOption('--scale <s>', 'downscaling factor (integer)')
    .option('--force', 'replace an existing output file')
    .argument('<hr>', 'HR image (PNG or JPEG)')
    .argument('<out>', 'output PNG')
    .action(async (hrPath: string, outPath: string, options: { scale: string; force?: boolean }) => {
      const scale = parseScale(options.scale);
      const output = { force: options.force === true, inputs: [hrPath] };
      await checkOutputPath(outPath, output);
      const image = await readImage(hrPath);
      if (image.width < scale || image.height < scale) {
        throw new DataError(`${hrPath}: a ${image.width}x${image.height} image is smaller than scale ${scale} (nothing is left after modcrop)`, hrPath);
      }
      const hr = modcrop(image, scale);
      const lr = imresize(hr, { scale: 1 / scale });
      await writePng(outPath, lr, output);
      io.stderr(`wrote ${outPath} (${lr.width}x${lr.height} from ${hr.width}x${hr.height})\n`);
    });
}
