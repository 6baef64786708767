'use strict';
/**
 * Preloaded (`node --expose-gc -r …`) into the service by bench/tricks.js, before dist/server.js:
 * - BENCH_WITHOUT=`module:export,…` (modules under dist/) puts a no-op in place of each named
 *   export, so that the server starts without that one piece of engine work. The compiled code
 *   reads an import's property at each call, so the no-op is what it calls.
 * - On SIGUSR2, two full garbage collections, then one line of `process.memoryUsage()` appended
 *   to BENCH_MEMLOG.
 */
const fs = require('node:fs');
const path = require('node:path');

for (const entry of (process.env.BENCH_WITHOUT ?? '').split(',').filter(Boolean)) {
  const [module, name] = entry.split(':');
  const exports = require(path.join(__dirname, '..', 'dist', module));
  if (typeof exports[name] !== 'function') throw new Error(`bench/tricks-preload: dist/${module} exports no function ${name}`);
  exports[name] = () => {};
}

process.on('SIGUSR2', () => {
  globalThis.gc();
  globalThis.gc();
  if (process.env.BENCH_MEMLOG) fs.appendFileSync(process.env.BENCH_MEMLOG, JSON.stringify(process.memoryUsage()) + '\n');
});
