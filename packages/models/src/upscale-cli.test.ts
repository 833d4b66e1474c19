import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { encodePng } from '@quantnas/data';
import { createSession, encodeArtifact, syntheticRfdn } from '@quantnas/runtime';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadModelBytes, modelPath } from './index.js';
import { run } from './upscale-cli.js';

// The runtime runs from its sources here; its compiled kernels and worker are in its dist folder.
const runtimeDist = join(dirname(createRequire(import.meta.url).resolve('@quantnas/runtime/package.json')), 'dist');
const session = {
  kernels: { source: pathToFileURL(join(runtimeDist, 'kernels.wasm')) },
  workerUrl: pathToFileURL(join(runtimeDist, 'engine-worker.js')),
};
const bin = fileURLToPath(new URL('../bin/quantnas-upscale.js', import.meta.url));

const [W, H] = [45, 38];
const rgb = Uint8Array.from({ length: W * H * 3 }, (_, i) => (i * 31 + ((i * i) >> 4)) & 0xff);
let work: string;
let input: string;
let expected: Buffer;

async function capture(argv: string[]) {
  let stdout = '';
  let stderr = '';
  const code = await run(argv, { stdout: (t) => void (stdout += t), stderr: (t) => void (stderr += t) }, session);
  return { code, stdout, stderr };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'quantnas-upscale-bin-'));
  input = join(work, 'in.png');
  await writeFile(input, encodePng({ width: W, height: H, channels: 3, data: rgb }));
  // What the runtime computes with the bundled model, written by the same PNG encoder.
  const engine = await createSession(await loadModelBytes(), session);
  const out = await engine.upscale({ width: W, height: H, channels: 3, data: rgb });
  await engine.dispose();
  expected = Buffer.from(encodePng({ width: out.width, height: out.height, channels: 3, data: out.data }));
});

describe('quantnas-upscale', () => {
  it('upscales with the bundled model by default, as the runtime does', async () => {
    const out = join(work, 'out.png');
    const result = await capture([input, out, '--json']);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ model: 'rfdn-searched-x4', input: [W, H], output: [4 * W, 4 * H], engine: 'int8', threads: 1 });
    expect((await readFile(out)).equals(expected)).toBe(true);
  });

  it('gives the same bytes by name, by file, on 2 threads and with small tiles', async () => {
    for (const [name, extra] of [
      ['by-name.png', ['--model', 'rfdn-searched-x4']],
      ['by-file.png', ['--model', modelPath()]],
      ['threads.png', ['--threads', '2', '--tile', '9']],
    ] as const) {
      const out = join(work, name);
      const result = await capture([...extra, input, out]);
      expect(result.code).toBe(0);
      expect(result.stderr).toMatch(new RegExp(`^wrote .*${name} \\(180x152 from 45x38\\) with \\S+ in \\d+ ms \\(int8, \\d threads?\\)\\n$`));
      expect((await readFile(out)).equals(expected)).toBe(true);
    }
  });

  it('runs as the installed bin (the built package)', () => {
    const out = join(work, 'bin.png');
    const result = spawnSync(process.execPath, [bin, input, out], { encoding: 'utf8' });
    expect(result.stderr).toMatch(/^wrote /);
    expect(result.status).toBe(0);
    return readFile(out).then((bytes) => expect(bytes.equals(expected)).toBe(true));
  });

  it('prints its help and version', async () => {
    const help = await capture(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('Usage: quantnas-upscale [options] <in> <out>');
    expect(help.stdout).toContain('default: rfdn-searched-x4');
    const version = await capture(['-V']);
    expect(version.stdout.trim()).toBe(JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')).version);
  });

  describe('errors: one line, non-zero exit, nothing written', () => {
    const cases: [string, () => Promise<string[]>, number, string[]][] = [
      ['an unknown option', async () => ['--scale', '2', input], 2, ["'--scale'"]],
      ['one argument', async () => [], 2, ['expected <in> and <out>', '1 argument']],
      ['a bad thread count', async () => ['--threads', '0', input], 2, ['--threads', "'0'"]],
      ['a bad tile', async () => ['--tile', '1e2', input], 2, ['--tile', "'1e2'"]],
      ['a missing image', async () => [join(work, 'none.png')], 1, ['none.png', 'no such file']],
      ['a missing model file', async () => ['--model', join(work, 'none.qnas'), input], 1, ['none.qnas', 'no such file']],
      ['an unknown model name', async () => ['--model', 'edsr', input], 1, ["no bundled model named 'edsr'", 'bundled: rfdn-searched-x4']],
      ['a file that is not a model', async () => ['--model', input, input], 1, ['in.png', 'not a .qnas model']],
      [
        'an image too small for the model',
        async () => {
          const path = join(work, 'tiny.png');
          await writeFile(path, encodePng({ width: 6, height: 6, channels: 3, data: rgb.subarray(0, 108) }));
          return [path];
        },
        1,
        ['tiny.png', 'too small'],
      ],
      [
        'a tampered model',
        async () => {
          const path = join(work, 'tampered.qnas');
          const bytes = encodeArtifact(syntheticRfdn({ channels: 12, cells: 1, scale: 2, seed: 1 }));
          bytes[bytes.length - 3]! ^= 0x01;
          await writeFile(path, bytes);
          return ['--model', path, input];
        },
        1,
        ['tampered.qnas', 'checksum'],
      ],
    ];
    it.each(cases)('%s', async (_name, args, exitCode, mentions) => {
      const out = join(work, 'never.png');
      const result = await capture([...(await args()), out]);
      expect(result.code).toBe(exitCode);
      const lines = result.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toMatch(/^quantnas-upscale: /);
      expect(lines[0]).not.toMatch(/internal error/);
      for (const m of mentions) expect(result.stderr).toContain(m);
      expect(existsSync(out)).toBe(false);
    });

    it('an existing output without --force', async () => {
      const out = join(work, 'exists.png');
      await writeFile(out, 'keep');
      const result = await capture([input, out]);
      expect(result.code).toBe(1);
      expect(result.stderr).toMatch(/^quantnas-upscale: .*exists.png.*\n$/);
      expect(await readFile(out, 'utf8')).toBe('keep');
    });
  });
});
