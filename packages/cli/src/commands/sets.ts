import { Command } from 'commander';
import { FETCH_COMMAND, listSets, openSet, resolveDataRoot } from '@quantnas/data';
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
      const sets = [];
      for (const name of listSets(root)) {
        const set = await openSet(root, name, { scale });
        sets.push({ name, pairs: set.pairs.length });
      }
      if (sets.length === 0 && !options.json) {
        io.stderr(`quantnas: no sets in ${root}; run \`${FETCH_COMMAND} --dir ${root}\` to download them\n`);
      }
      if (options.json) {
        io.stdout(JSON.stringify({ root, scale, sets }) + '\n');
      } else {
        io.stdout(`data root: ${root}\n` + renderTable(['set', `x${scale} pairs`], sets.map((s) => [s.name, String(s.pairs)])));
      }
    });
}
