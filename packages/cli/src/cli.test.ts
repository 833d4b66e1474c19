import { mkdtemp, readFile, writeFile, mkdir, cp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { decodePng, resolveDataRoot } from '@quantnas/data';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CliIo } from './io.js';
import { main } from './main.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(argv: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const io: CliIo = {
    stdout: (t) => void (stdout += t),
    stderr: (t) => void (stderr += t),
    env,
    interactive: false,
  };
  const code = await main(argv, io);
  return { code, stdout, stderr };
}

/** A failure the user caused: one line, naming what is wrong, no stack trace. */
function expectOneLineError(result: Run, ...mentions: string[]) {
  expect(result.code).not.toBe(0);
  const lines = result.stderr.trimEnd().split('\n');
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^quantnas: /);
  expect(result.stderr).not.toMatch(/\n\s+at /);
  for (const m of mentions) expect(result.stderr).toContain(m);
}

const dataRoot = resolveDataRoot();
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'quantnas-cli-'));
});

describe('--help', () => {
  it.each([[[]], [['--help']], [['eval', '--help']], [['downscale', '--help']], [['sets', '--help']]])(
    'explains %j',
    async (argv) => {
      const result = await run(argv);
      const text = result.stdout + result.stderr;
      expect(text).toContain('Usage: quantnas');
      if (argv[0] === 'eval') expect(text).toMatch(/--data <dir>[\s\S]*--json/);
    },
  );

  it('rejects an unknown subcommand with usage help', async () => {
    const result = await run(['serch']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("unknown command 'serch'");
  });
});

describe('eval --model bicubic', () => {
  it('prints the benchmark JSON shape on Set5 x4, honouring QUANTNAS_DATA', async () => {
    const result = await run(['eval', '--model', 'bicubic', '--scale', '4', '--sets', 'Set5', '--json'], {
      QUANTNAS_DATA: dataRoot,
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json).toMatchObject({ model: 'bicubic', scale: 4, sets: { Set5: { images: 5 } } });
    expect(Math.abs(json.sets.Set5.psnr - 28.42)).toBeLessThan(0.015);
    expect(Math.abs(json.sets.Set5.ssim - 0.8104)).toBeLessThan(0.002);
  });

  it('prints a table for people', async () => {
    const result = await run(['eval', '--model', 'bicubic', '--scale', '3', '--sets', 'Set5', '--data', dataRoot]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Set5\s+5\s+30\.(39|40)\s+0\.\d{4}/);
  });

  it('names an unknown set and the available ones', async () => {
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--sets', 'Set6', '--data', dataRoot]), 'Set6', 'Set5');
  });

  it('names an unknown model', async () => {
    expectOneLineError(await run(['eval', '--model', 'edsr', '--sets', 'Set5', '--data', dataRoot]), "unknown model 'edsr'");
  });

  it('names the places it looked when the data root is missing', async () => {
    const missing = join(work, 'no-such-dir');
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--sets', 'Set5', '--data', missing]), missing);
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--sets', 'Set5'], { QUANTNAS_DATA: missing }), missing);
  });

  it('names a file that pairs.csv lists but that does not exist', async () => {
    const root = join(work, 'broken-root');
    await cp(join(dataRoot, 'Set5'), join(root, 'Set5'), { recursive: true });
    const csvPath = join(root, 'Set5', 'pairs.csv');
    const csv = await readFile(csvPath, 'utf8');
    await writeFile(csvPath, csv.replaceAll('LR_bicubic/X4/birdx4.png', 'LR_bicubic/X4/missing-birdx4.png'));
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--sets', 'Set5', '--data', root]), 'missing-birdx4.png');
  });

  it('rejects a bad scale', async () => {
    expectOneLineError(await run(['eval', '--model', 'bicubic', '--scale', 'four', '--data', dataRoot]), "'four'");
  });
});

describe('downscale', () => {
  it.each([2, 3, 4])('reproduces the shipped Set5 LR files at x%i, pixel for pixel', async (scale) => {
    for (const name of ['baby', 'bird', 'butterfly', 'head', 'woman']) {
      const out = join(work, `${name}x${scale}.png`);
      const result = await run(['downscale', '--scale', String(scale), join(dataRoot, 'Set5', 'HR', `${name}.png`), out]);
      expect(result.code).toBe(0);
      const ours = decodePng(await readFile(out));
      const shipped = decodePng(await readFile(join(dataRoot, 'Set5', 'LR_bicubic', `X${scale}`, `${name}x${scale}.png`)));
      expect([ours.width, ours.height]).toEqual([shipped.width, shipped.height]);
      expect(Buffer.compare(Buffer.from(ours.data), Buffer.from(shipped.data))).toBe(0);
    }
  });

  it('rejects a truncated PNG, naming it, and writes nothing', async () => {
    const truncated = join(work, 'truncated.png');
    const bytes = await readFile(join(dataRoot, 'Set5', 'HR', 'bird.png'));
    await writeFile(truncated, bytes.subarray(0, Math.floor(bytes.length / 2)));
    const out = join(work, 'never.png');
    expectOneLineError(await run(['downscale', '--scale', '4', truncated, out]), truncated);
    await expect(readFile(out)).rejects.toThrow();
  });

  it('rejects a file that is not an image, naming it', async () => {
    const text = join(work, 'notes.png');
    await writeFile(text, 'this is not an image\n');
    expectOneLineError(await run(['downscale', '--scale', '2', text, join(work, 'x.png')]), text);
  });

  it('names a missing input file', async () => {
    const missing = join(work, 'nope.png');
    expectOneLineError(await run(['downscale', '--scale', '2', missing, join(work, 'y.png')]), missing);
  });
});

describe('sets', () => {
  it('lists the sets at the data root as JSON', async () => {
    await mkdir(work, { recursive: true });
    const result = await run(['sets', '--json', '--data', dataRoot]);
    expect(result.code).toBe(0);
    const json = JSON.parse(result.stdout);
    expect(json.root).toBe(dataRoot);
    const byName = Object.fromEntries(json.sets.map((s: { name: string; pairs: number }) => [s.name, s.pairs]));
    expect(byName).toMatchObject({ Set5: 5, Set14: 14, B100: 100, T91: 91, BSD200: 200 });
  });
});
