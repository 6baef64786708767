/**
 * Preloaded (`node --expose-gc -r …`) into every server under test, ours and the baselines
 * alike: SIGUSR2 runs a full garbage collection, so that the connections workload reads RSS
 * after the garbage of 15,000 handshakes is gone rather than whenever V8 gets to it.
 */
process.on('SIGUSR2', () => {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (gc) gc();
});
