export { createProgram, main } from './main.js';
export { processIo, UsageError, type CliIo } from './io.js';
