#!/usr/bin/env node
import { main } from '../dist/main.js';

// Started with an IPC channel (a job of `quantnas sweep` or `quantnas worker`): exit at once when the
// parent goes away, even when it was killed (SIGKILL), so that no orphaned run keeps writing. The
// channel itself does not keep this process alive.
if (process.channel) {
  process.channel.unref();
  process.on('disconnect', () => process.kill(process.pid, 'SIGKILL'));
}

process.exitCode = await main(process.argv.slice(2));
