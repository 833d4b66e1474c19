// The demo page's script: loads a model (file, URL in ?model=, or a synthetic one), an image
// (file, or a sample drawn here), and upscales it on the integer engine on this thread.
// Query parameters: model=URL, tile=N, kernels=auto|off. window.quantnasDemo is for scripted use
// (the end-to-end test): setImage(rgb), loadModelUrl(url), result, session.
import { createSession, decodeArtifact, encodeArtifact, imageDataFromRgb, rgbFromImageData, syntheticRfdn } from '../dist/browser/quantnas-runtime.js';

/** Larger images are scaled down first: a CPU upscale grows with the pixel count. */
const MAX_SIDE = 512;

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const state = { model: undefined, session: undefined, image: undefined, imageLabel: '', result: undefined, busy: false };

function setState(name) {
  document.body.dataset.state = name;
  const ready = state.session !== undefined && state.image !== undefined;
  $('upscale').disabled = state.busy || !ready;
  for (const id of ['model-file', 'model-synthetic', 'image-file', 'image-sample', 'tile', 'kernels']) $(id).disabled = state.busy;
}

function setStatus(text) {
  $('status').textContent = text;
}

function showError(error) {
  $('error').textContent = error === undefined ? '' : `${error?.name ?? 'Error'}: ${error?.message ?? String(error)}`;
}

function fail(error) {
  console.error(error);
  showError(error);
  setStatus('Failed');
  setState('error');
}

/** 1234567 → "1.23 M". */
function si(value, unit = '') {
  if (value === undefined) return 'n/a';
  const prefixes = ['', 'k', 'M', 'G', 'T'];
  let i = 0;
  while (Math.abs(value) >= 999.5 && i < prefixes.length - 1) {
    value /= 1000;
    i++;
  }
  return `${Number(value.toPrecision(3))} ${prefixes[i]}${unit}`.trim();
}

function fillList(dl, rows) {
  dl.replaceChildren(
    ...rows.flatMap(([term, value]) => {
      const dt = document.createElement('dt');
      dt.textContent = term;
      const dd = document.createElement('dd');
      dd.textContent = value;
      return [dt, dd];
    }),
  );
}

function tileSize() {
  const tile = Number($('tile').value);
  return Number.isInteger(tile) && tile >= 1 ? tile : 128;
}

/** (Re)creates the session for the loaded model with the current tile and kernel choice. */
async function openSession() {
  const old = state.session;
  state.session = undefined;
  await old?.dispose();
  if (!state.model) return;
  const session = await createSession(state.model.artifact, { tile: tileSize(), kernels: { relaxedSimd: $('kernels').value } });
  state.session = session;
  const { info } = session;
  const header = state.model.artifact.header;
  fillList($('model-info'), [
    ['Model', `${state.model.name} (${si(state.model.bytes, 'B')})${header.metadata?.space ? `, ${header.metadata.space}` : ''}`],
    ['Scale', `×${info.scale}`],
    ['Graph', `${info.layers} layers, ${info.convs} convs, ${info.passes} passes`],
    ['MACs per LR pixel', si(info.macsPerLrPixel)],
    ['BitOps per LR pixel', si(info.bitOpsPerLrPixel)],
    ['Kernels', info.relaxedSimd ? 'relaxed SIMD (int8 · int7 dot)' : 'SIMD128 (int16 dot)'],
  ]);
  showImage();
}

async function loadModel(bytes, name) {
  state.busy = true;
  setState('loading');
  showError();
  setStatus(`Loading ${name}…`);
  try {
    state.model = { name, bytes: bytes.length, artifact: decodeArtifact(bytes, name) };
    await openSession();
    setStatus(state.image ? 'Ready' : 'Ready: pick an image');
    state.busy = false;
    setState('ready');
  } catch (error) {
    state.model = undefined;
    state.session = undefined;
    $('model-info').replaceChildren();
    state.busy = false;
    fail(error);
  }
}

async function loadModelUrl(url) {
  const name = decodeURIComponent(new URL(url, location.href).pathname.split('/').pop() || 'model.qnas');
  let bytes;
  try {
    const response = await fetch(url);
    if (!response.ok) throw new Error(`fetching ${url} failed (${response.status} ${response.statusText})`);
    bytes = new Uint8Array(await response.arrayBuffer());
  } catch (error) {
    return fail(error);
  }
  await loadModel(bytes, name);
}

/** Draws the input; shown at the output's size (nearest neighbour) to compare with it. */
function showImage() {
  const image = state.image;
  if (!image) return;
  const view = $('input-view');
  view.width = image.width;
  view.height = image.height;
  view.getContext('2d').putImageData(imageDataFromRgb(image), 0, 0);
  const scale = state.session?.info.scale ?? 1;
  view.style.width = `${image.width * scale}px`;
  $('input-caption').textContent =
    `Input ${image.width}×${image.height}${state.imageLabel ? ` (${state.imageLabel})` : ''}${scale > 1 ? `, shown ×${scale} nearest neighbour` : ''}`;
}

function setImage(image, label = '') {
  const data = image.data instanceof Uint8Array ? image.data : Uint8Array.from(image.data);
  state.image = { width: image.width, height: image.height, channels: 3, data };
  state.imageLabel = label;
  state.result = undefined;
  const out = $('output-view');
  out.width = 1;
  out.height = 1;
  $('output-caption').textContent = 'Output';
  $('run-info').replaceChildren();
  showImage();
  if (!state.busy) setState(state.session ? 'ready' : 'idle');
}

function canvasRgb(source, width, height) {
  const canvas = document.createElement('canvas');
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d', { willReadFrequently: true });
  if (typeof source === 'function') source(ctx);
  else ctx.drawImage(source, 0, 0, width, height);
  return rgbFromImageData(ctx.getImageData(0, 0, width, height));
}

async function loadImageFile(file) {
  showError();
  try {
    const bitmap = await createImageBitmap(file);
    const shrink = Math.min(1, MAX_SIDE / Math.max(bitmap.width, bitmap.height));
    const width = Math.max(1, Math.round(bitmap.width * shrink));
    const height = Math.max(1, Math.round(bitmap.height * shrink));
    setImage(canvasRgb(bitmap, width, height), shrink < 1 ? `${file.name}, scaled down from ${bitmap.width}×${bitmap.height}` : file.name);
    bitmap.close();
  } catch (error) {
    fail(error);
  }
}

/** A small scene with smooth areas, edges and fine stripes, drawn here so the page needs no files. */
function sampleImage() {
  const width = 120;
  const height = 80;
  return canvasRgb(
    (ctx) => {
      const sky = ctx.createLinearGradient(0, 0, 0, height);
      sky.addColorStop(0, '#3b7bd6');
      sky.addColorStop(1, '#f2c38b');
      ctx.fillStyle = sky;
      ctx.fillRect(0, 0, width, height);
      ctx.fillStyle = '#ffe27a';
      ctx.beginPath();
      ctx.arc(92, 22, 11, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = '#3f6b3a';
      ctx.beginPath();
      ctx.moveTo(0, 62);
      for (let x = 0; x <= width; x += 6) ctx.lineTo(x, 52 + 8 * Math.sin(x / 13) + 3 * Math.sin(x / 3.1));
      ctx.lineTo(width, height);
      ctx.lineTo(0, height);
      ctx.fill();
      ctx.fillStyle = '#b8483a';
      ctx.fillRect(18, 40, 26, 20);
      ctx.fillStyle = '#6d2c22';
      ctx.beginPath();
      ctx.moveTo(14, 41);
      ctx.lineTo(31, 28);
      ctx.lineTo(48, 41);
      ctx.fill();
      ctx.fillStyle = '#f4f1e8';
      for (let i = 0; i < 8; i++) ctx.fillRect(56 + 2 * i, 64, 1, 14);
      ctx.fillStyle = '#1d2530';
      ctx.font = 'bold 13px sans-serif';
      ctx.fillText('QNAS', 76, 76);
    },
    width,
    height,
  );
}

async function upscale() {
  if (!state.session || !state.image || state.busy) return;
  state.busy = true;
  setState('running');
  showError();
  const progress = $('progress');
  progress.value = 0;
  const image = state.image;
  const info = state.session.info;
  setStatus(`Upscaling ${image.width}×${image.height}…`);
  try {
    const started = performance.now();
    const result = await state.session.upscale(image, {
      onProgress: (event) => {
        if (event.status === 'start') progress.max = event.tiles;
        else if (event.status === 'tile') progress.value = event.index + 1;
      },
    });
    const ms = performance.now() - started;
    state.result = result;
    const out = $('output-view');
    out.width = result.width;
    out.height = result.height;
    out.getContext('2d').putImageData(imageDataFromRgb(result), 0, 0);
    const synthetic = /synthetic/.test(String(state.model?.artifact.header.metadata?.space ?? ''));
    $('output-caption').textContent = `Output ${result.width}×${result.height}${synthetic ? ' (random weights: not a meaningful image)' : ''}`;
    const pixels = image.width * image.height;
    const macs = info.macsPerLrPixel === undefined ? undefined : info.macsPerLrPixel * pixels;
    fillList($('run-info'), [
      ['Time', `${ms.toFixed(1)} ms`],
      ['MACs', macs === undefined ? 'n/a' : `${si(macs)} (${si((2 * macs) / (ms / 1000), 'op/s')})`],
      ['BitOps', info.bitOpsPerLrPixel === undefined ? 'n/a' : si(info.bitOpsPerLrPixel * pixels)],
      ['Tiles', `${progress.max} (tile ${info.tile} px, ${info.passes} passes)`],
    ]);
    setStatus(`Upscaled ${image.width}×${image.height} → ${result.width}×${result.height} in ${ms.toFixed(1)} ms`);
    state.busy = false;
    setState('done');
  } catch (error) {
    state.busy = false;
    fail(error);
  }
}

function readFile(input, handle) {
  input.addEventListener('change', () => {
    const file = input.files?.[0];
    if (file) void handle(file);
    input.value = '';
  });
}

readFile($('model-file'), async (file) => loadModel(new Uint8Array(await file.arrayBuffer()), file.name));
readFile($('image-file'), loadImageFile);
$('model-synthetic').addEventListener('click', () => {
  const { header, blob } = syntheticRfdn({ seed: 7, channels: 24, cells: 2, scale: 4 });
  void loadModel(encodeArtifact(header, blob), 'synthetic-rfdn.qnas');
});
$('image-sample').addEventListener('click', () => setImage(sampleImage(), 'sample'));
$('upscale').addEventListener('click', () => void upscale());
for (const id of ['tile', 'kernels']) {
  $(id).addEventListener('change', async () => {
    if (!state.model || state.busy) return;
    state.busy = true;
    setState('loading');
    try {
      await openSession();
      state.busy = false;
      setState('ready');
    } catch (error) {
      state.busy = false;
      fail(error);
    }
  });
}

window.quantnasDemo = {
  setImage,
  loadModelUrl,
  upscale,
  get result() {
    return state.result;
  },
  get session() {
    return state.session;
  },
};

if (params.has('tile')) $('tile').value = params.get('tile');
if (params.get('kernels') === 'off') $('kernels').value = 'off';
setImage(sampleImage(), 'sample');
setStatus('Pick a model');
setState('idle');
if (params.has('model')) await loadModelUrl(params.get('model'));
