import { Command } from 'commander';
import { DEFAULT_FETCH_BASE_URL, FETCH_SETS, fetchSets, resolveCacheDir, userDataRoot } from '@quantnas/data';
import { UsageError, type CliIo } from '../io.js';
import { createByteProgress } from '../progress.js';

interface FetchCommandOptions {
  sets: string;
  dir?: string;
  baseUrl?: string;
  json?: boolean;
}

export function dataCommand(io: CliIo): Command {
  const data = new Command('data').summary('get the SR data sets').description('Commands that manage the SR data (Set5, Set14, B100, T91, BSD200).');
  const fetch = new Command('fetch')
    .summary('download the SR sets, checked, into the user data directory')
    .description(
      'Downloads the sets from their public upstream repositories at pinned commits, checks every file against the ' +
        'SHA-256 table shipped with @quantnas/data, converts T91 from BMP to PNG, and writes each set with its ' +
        'pairs.csv into DIR/<set> (default: the user data directory, $XDG_DATA_HOME/quantnas/sr, where every command ' +
        'looks). A set is renamed into place only when complete; a set already there is left alone. An interrupted ' +
        'fetch resumes where it stopped when run again (downloads wait in the cache directory, $QUANTNAS_CACHE or ' +
        '$XDG_CACHE_HOME/quantnas).\n\nAbout 111 MiB to download: Set5 1.7, Set14 7.0, B100 37.8, T91 15.4 (as BMP), BSD200 49.5.',
    )
    .option('--sets <list>', `sets to fetch, from ${FETCH_SETS.join(', ')}`, FETCH_SETS.join(','))
    .option('--dir <dir>', 'data root to write the sets into (default: the user data directory)')
    .option('--base-url <url>', `where raw repository files are served (default: $QUANTNAS_DATA_URL, else ${DEFAULT_FETCH_BASE_URL})`)
    .option('--json', 'print one JSON object on stdout at the end')
    // addCommand does not pass these on: without them a bad option would exit the process.
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .action(async (o: FetchCommandOptions) => {
      const sets = o.sets
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
      const unknown = sets.filter((s) => !(FETCH_SETS as readonly string[]).includes(s));
      if (sets.length === 0 || unknown.length > 0) throw new UsageError(`--sets takes names from ${FETCH_SETS.join(', ')}, got '${o.sets}'`);
      const baseUrl = o.baseUrl ?? (io.env.QUANTNAS_DATA_URL || undefined);
      if (baseUrl !== undefined && !/^https?:\/\/\S+$/.test(baseUrl)) throw new UsageError(`--base-url must be an http(s) URL, got '${baseUrl}'`);
      const dir = o.dir ?? userDataRoot(io.env);
      const progress = createByteProgress(io, 'fetch');
      const controller = new AbortController();
      const onSigint = () => controller.abort();
      process.once('SIGINT', onSigint);
      let result;
      try {
        result = await fetchSets({
          sets,
          dir,
          cacheDir: resolveCacheDir(io.env),
          ...(baseUrl !== undefined ? { baseUrl } : {}),
          signal: controller.signal,
          onEvent: (e) => {
            if (e.status === 'progress') progress.update(e.doneBytes, e.totalBytes, e.file);
            else if (e.status === 'present' && !o.json) io.stderr(`quantnas: ${e.set} is already in ${e.dir}; left as it is\n`);
            else if (e.status === 'set' && !o.json) {
              progress.stop();
              io.stderr(`quantnas: ${e.set}: ${e.files} files checked and written to ${e.dir}\n`);
            }
          },
        });
      } finally {
        progress.stop();
        process.removeListener('SIGINT', onSigint);
      }
      const summary = { dir: result.dir, fetched: result.fetched, present: result.present, downloaded_bytes: result.downloadedBytes };
      if (o.json) io.stdout(JSON.stringify(summary) + '\n');
      else {
        io.stdout(
          `data root ${result.dir}: fetched ${result.fetched.length > 0 ? result.fetched.join(', ') : 'nothing'}` +
            `${result.present.length > 0 ? `; already there: ${result.present.join(', ')}` : ''}` +
            ` (${(result.downloadedBytes / 1048576).toFixed(1)} MiB downloaded)\n`,
        );
      }
    });
  return data.addCommand(fetch);
}
