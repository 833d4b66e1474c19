/**
 * Stands in for node-pool.ts in the browser bundle (scripts/build-browser.mjs swaps it in), so that
 * node:worker_threads is never referenced there. Only reached with threads > 1.
 */
export const NodeTilePool = {
  start(): Promise<never> {
    return Promise.reject(new Error('createSession: threads > 1 needs Node worker_threads; in the browser use threads: 1'));
  },
};
