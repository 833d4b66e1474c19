// The browser demo in this repository: builds the browser bundle when its sources are newer, then
// serves the page (src/demo-server.ts, built to dist/demo-server.js) on 127.0.0.1.
// Usage: node scripts/serve-demo.mjs [--port N] [--models DIR] [--model FILE]
//        (npm run demo -- --models DIR; `quantnas demo` serves the installed page and the bundled model)
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureBrowserBuild } from './build-browser.mjs';

const server = new URL('../dist/demo-server.js', import.meta.url);
if (!existsSync(server)) {
  console.error('serve-demo: dist/demo-server.js is missing: build the runtime first (npx nx build runtime)');
  process.exit(1);
}
const { values } = parseArgs({ options: { port: { type: 'string', default: '8080' }, models: { type: 'string' }, model: { type: 'string' } } });
await ensureBrowserBuild();
const { startDemoServer } = await import(server.href);
const { url, close } = await startDemoServer({ port: Number(values.port), models: values.models, model: values.model });
console.log(`QuantNAS runtime demo: ${url}`);
if (values.models) console.log(`models from ${resolve(values.models)} at /models/ (e.g. ${url}?model=/models/NAME.qnas)`);
console.log('Ctrl+C to stop');
process.once('SIGINT', () => void close().then(() => process.exit(0)));
