// Runs verdaccio (the root devDependency) on 127.0.0.1 at a port the OS picks, for
// tools/registry-test.mjs. Usage: node tools/registry/server.mjs CONFIG.yaml
// Prints one line `listening PORT` on stdout once it accepts connections. It exits when its stdin
// closes, so the registry never outlives the test that started it, even when that test is killed.
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);
const { runServer } = require('verdaccio');

const configPath = process.argv[2];
if (!configPath) {
  console.error('usage: node tools/registry/server.mjs CONFIG.yaml');
  process.exit(2);
}

const server = await runServer(configPath);
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${server.address().port}\n`);
});
server.on('error', (error) => {
  console.error(`verdaccio: ${error.message}`);
  process.exit(1);
});

const stop = () => {
  server.close();
  // Open keep-alive sockets would hold close() back; the test is over either way.
  setTimeout(() => process.exit(0), 200).unref();
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
