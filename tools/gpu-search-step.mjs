// The Node side of tools/gpu-search-step.sh (see there). Subcommands, each printing
// one JSON object on stdout:
//   adapter                        Dawn's adapter (info, limits) and whether tfjs-webgpu starts on it
//   gradients [space] [channels] [batch] [size]
//                                  the gradients of a search step's L1 with respect to every w and
//                                  α of a supernet (noise mode, ADQ, 1 cell) on webgpu and on wasm,
//                                  each against the cpu backend
//   summary <dir> <mode> <seconds> the check's result: every phase's JSON from <dir> and the
//                                  webgpu/wasm ratios
// Run from a tree where the packages are built (the repository, or the payload's copy of it).
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const [command, ...args] = process.argv.slice(2);
const print = (value) => process.stdout.write(JSON.stringify(value) + '\n');

async function adapter() {
  const core = await import('@quantnas/core-ops');
  const probe = await core.probeWebGpu();
  if (!probe.found) return print({ found: false, reason: probe.reason });
  const out = { found: true, adapter: probe.adapter };
  try {
    const info = await core.initBackend('webgpu');
    const backend = core.tf.backend();
    const limits = backend.device?.limits;
    out.backend = { name: info.name, detail: info.detail };
    if (limits) {
      out.deviceLimits = Object.fromEntries(
        [
          'maxStorageBuffersPerShaderStage',
          'maxStorageBufferBindingSize',
          'maxBufferSize',
          'maxComputeWorkgroupStorageSize',
          'maxComputeInvocationsPerWorkgroup',
        ].map((k) => [k, limits[k]]),
      );
    }
    // One small op end to end, read back the way webgpu code must (await data()).
    const y = core.tf.add(core.tf.tensor1d([1, 2, 3]), 1);
    out.smoke = Array.from(await y.data());
  } catch (error) {
    out.backend = { error: error instanceof Error ? error.message : String(error) };
  }
  print(out);
}

async function gradients(space = 'rfdn', channels = 12, batch = 2, size = 16) {
  const { initBackend, tf } = await import('@quantnas/core-ops');
  const { createSupernet, loadSpec } = await import('@quantnas/search-spaces');
  const spec = await loadSpec(space);
  const options = { mode: 'noise', adq: true, seed: 1, channels, cells: 1 };
  // The same inputs everywhere: made once on the cpu backend, kept as arrays.
  await initBackend('cpu');
  const x = tf.randomUniform([batch, size, size, 3], 0, 1, 'float32', 3);
  const y = tf.randomUniform([batch, size * spec.scale, size * spec.scale, 3], 0, 1, 'float32', 4);
  const lr = await x.data();
  const hr = await y.data();
  tf.dispose([x, y]);
  let initial;

  const run = async (backend) => {
    const t0 = performance.now();
    await initBackend(backend);
    const net = createSupernet(spec, options);
    const trained = new Map([...net.weightVariables(), ...net.alphaVariables()]);
    if (!initial) {
      initial = new Map();
      for (const [name, v] of net.variables()) initial.set(name, await v.data());
    } else {
      for (const [name, v] of net.variables()) v.assign(tf.tensor(initial.get(name), v.shape));
    }
    const xs = tf.tensor4d(lr, [batch, size, size, 3]);
    const ys = tf.tensor4d(hr, [batch, size * spec.scale, size * spec.scale, 3]);
    const { value, grads } = tf.variableGrads(() => tf.mean(tf.abs(tf.sub(net.apply(xs, { training: true }), ys))), [...trained.values()]);
    const out = new Map();
    for (const [name, v] of trained) if (grads[v.name]) out.set(name, await grads[v.name].data());
    const loss = (await value.data())[0];
    tf.dispose([xs, ys, value, ...Object.values(grads)]);
    net.dispose();
    return { grads: out, loss, ms: performance.now() - t0 };
  };

  const compare = (ref, other) => {
    let worst = 0;
    let worstName = '';
    const missing = [];
    for (const [name, a] of ref.grads) {
      const b = other.grads.get(name);
      if (!b) {
        missing.push(name);
        continue;
      }
      let scale = 0;
      let diff = 0;
      for (let i = 0; i < a.length; i++) {
        scale = Math.max(scale, Math.abs(a[i]));
        diff = Math.max(diff, Math.abs(a[i] - b[i]));
      }
      const rel = scale > 0 ? diff / scale : diff;
      if (!(rel <= worst)) {
        worst = rel;
        worstName = name;
      }
    }
    return { maxRelDiff: worst, worstVariable: worstName, missing, lossDiff: Math.abs(ref.loss - other.loss) };
  };

  const cpu = await run('cpu');
  const result = { space, channels, batch, size, variables: cpu.grads.size, cpuLoss: cpu.loss, cpuMs: cpu.ms };
  for (const backend of ['wasm', 'webgpu']) {
    try {
      const r = await run(backend);
      result[backend] = { ...compare(cpu, r), ms: r.ms };
    } catch (error) {
      result[backend] = { error: error instanceof Error ? error.message : String(error) };
    }
  }
  // float32 with a different summation order: ~1e-6 to 1e-3 relative is rounding; more is a bug.
  result.ok = ['wasm', 'webgpu'].every((b) => result[b].maxRelDiff !== undefined && result[b].maxRelDiff < 1e-2 && result[b].missing.length === 0);
  print(result);
}

function summary(dir, mode, seconds) {
  const read = (name) => {
    const path = join(dir, `${name}.json`);
    if (!existsSync(path)) return undefined;
    const lines = readFileSync(path, 'utf8').trim().split('\n');
    try {
      return JSON.parse(lines[lines.length - 1]);
    } catch {
      return { unreadable: lines.slice(-3).join('\n').slice(0, 500) };
    }
  };
  const text = (name, ext) => (existsSync(join(dir, `${name}.${ext}`)) ? readFileSync(join(dir, `${name}.${ext}`), 'utf8') : '');
  const phases = readdirSync(dir)
    .filter((f) => f.endsWith('.rc'))
    .map((f) => f.slice(0, -3))
    .sort();
  const status = Object.fromEntries(phases.map((p) => [p, Number(text(p, 'rc').trim())]));
  // Dawn reports invalid pipelines (on stdout, before the JSON line) and carries on: count them per phase.
  const validation = Object.fromEntries(
    phases.map((p) => [p, (`${text(p, 'json')}\n${text(p, 'err')}`.match(/^validation:/gm) ?? []).length]).filter(([, n]) => n > 0),
  );

  const pairs = [];
  for (const p of phases) {
    const m = /^(search|train)-(.+)-webgpu$/.exec(p);
    if (!m) continue;
    const gpu = read(p);
    const cpu = read(`${m[1]}-${m[2]}-wasm`);
    const entry = { bench: `${m[1]}-step`, config: m[2] };
    if (m[1] === 'search') {
      const g = gpu?.noise_ms;
      const c = cpu?.noise_ms;
      Object.assign(entry, { webgpu_ms: g ?? null, wasm_ms: c ?? null, webgpu_speedup: g && c ? c / g : null });
    } else {
      Object.assign(entry, {
        webgpu_ms: gpu?.ms_per_step ?? null,
        wasm_ms: cpu?.ms_per_step ?? null,
        webgpu_gflops: gpu?.gflops ?? null,
        wasm_gflops: cpu?.gflops ?? null,
        webgpu_speedup: gpu?.ms_per_step && cpu?.ms_per_step ? cpu.ms_per_step / gpu.ms_per_step : null,
      });
    }
    if (status[p] !== 0) entry.webgpu_exit = status[p];
    if (validation[p]) entry.webgpu_validation_errors = validation[p];
    pairs.push(entry);
  }
  const adapter = read('adapter');
  print({
    check: 'gpu-search-step',
    mode,
    seconds: Number(seconds),
    host: read('host'),
    adapter,
    gradients: read('gradients'),
    speed: pairs,
    exit_codes: status,
    ...(Object.keys(validation).length ? { validation_errors: validation } : {}),
    // Which AddN webgpu ran, from core-ops' backend detail ("AddN in chunks of 7"; null: a build
    // of core-ops without the chunked AddN).
    addn: /(?:^|, )([^,]*AddN[^,]*)/.exec(adapter?.backend?.detail ?? '')?.[1] ?? null,
    skipped: text('skipped', 'txt').split('\n').filter(Boolean),
  });
}

try {
  if (command === 'adapter') await adapter();
  else if (command === 'gradients') await gradients(args[0], Number(args[1] ?? 12), Number(args[2] ?? 2), Number(args[3] ?? 16));
  else if (command === 'summary') summary(args[0], args[1] ?? 'device', args[2] ?? 'NaN');
  else {
    process.stderr.write('usage: gpu-search-step.mjs adapter | gradients [space] [channels] [batch] [size] | summary <dir> <mode> <seconds>\n');
    process.exitCode = 2;
  }
} catch (error) {
  print({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
  process.exitCode = 1;
}
