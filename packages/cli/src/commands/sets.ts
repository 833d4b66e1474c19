import { Command } from 'commander';
import { DataError, FETCH_COMMAND, listSets, openSet, resolveDataRoot } from '@quantnas/data';
import type { CliIo } from '../io.js';
import { parseScale } from '../options.js';
import { renderTable } from '../table.js';

export function setsCommand(io: CliIo): Command {
  return new Command('sets')
    .summary('show the data root in use and the image sets found there')
    .option('--data <dir>', 'data root (default: $QUANTNAS_DATA, ../shared/data/sr, user data dir)')
    .option('--scale <s>', 'scale whose LR/HR pairs are counted', '4')
    .option('--json', 'print one JSON object on stdout')
    .action(async (options: { data?: string; scale: string; json?: boolean }) => {
      const scale = parseScale(options.scale);
      const root = resolveDataRoot({ explicit: options.data, env: io.env });
      // One unusable set (an image smaller than the scale, a broken pairs.csv) is listed with its
      // problem; the others are still counted.
      const sets: { name: string; pairs: number | null; error?: string }[] = [];
      for (const name of listSets(root)) {
        try {
          const set = await openSet(root, name, { scale });
          sets.push({ name, pairs: set.pairs.length });
        } catch (error) {
          if (!(error instanceof DataError)) throw error;
          sets.push({ name, pairs: null, error: error.message });
          if (!options.json) io.stderr(`quantnas: note: set ${name} is unusable at x${scale}: ${error.message}\n`);
        }
      }
      if (sets.length === 0 && !options.json) {
        io.stderr(`quantnas: no sets in ${root}; run \`${FETCH_COMMAND} --dir ${root}\` to download them\n`);
      }
      if (options.json) {
        io.stdout(JSON.stringify({ root, scale, sets }) + '\n');
      } else {
        io.stdout(
          `data root: ${root}\n` +
            renderTable(
              ['set', `x${scale} pairs`],
              sets.map((s) => [s.name, s.pairs === null ? 'unusable' : String(s.pairs)]),
            ),
        );
      }
    });
}
