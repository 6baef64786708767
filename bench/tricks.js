#!/usr/bin/env node
'use strict';
/**
 * What each piece of the service's engine work saves (or costs) per idle connection, and what a
 * disconnected session kept for recovery holds. The service (dist/server.js, single node) is
 * started once per variant, each time without one piece (bench/tricks-preload.js puts a no-op in
 * place of its install function), and N idle `/layout` members that each JOINed a room of 10 are
 * connected by the load generator of `npm run bench`. The heap (V8's `heapUsed`) and RSS are read
 * after two forced full collections, before and after; the difference per connection is the figure.
 * Variants run in turn, round after round, so that drift spreads over all of them.
 *
 * Then, in the variants that say so, the generator cuts every connection (TCP closed, no
 * Socket.IO disconnect) and the heap is read again: with recovery on, what stays is the sessions
 * kept for `--recovery-window`.
 *
 *   npm run build && tsc -p bench/tsconfig.json && node bench/tricks.js [--connections 10000] [--rounds 3]
 *
 * Writes bench/results/tricks.json and prints
 * it; `node dist-bench/report.js` puts it in bench/RESULTS.md.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const { Generator, freePort, sleep } = require(path.join(ROOT, 'dist-bench', 'lib', 'processes.js'));

const option = (name, fallback) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
};
const CONNECTIONS = Number(option('connections', 10_000));
const ROUNDS = Number(option('rounds', 3));
const ROOM_SIZE = 10;

/** Each variant: the service without these install functions (`module:export` under dist/). */
const VARIANTS = [
  { name: 'all on', without: [], cut: true },
  { name: 'recovery off (--recovery-window 0)', without: [], args: ['--recovery-window', '0'], cut: true },
  { name: 'without: handshake request released', without: ['engine/handshake.js:releaseHandshakeRequests'] },
  { name: 'without: listener tables compacted', without: ['engine/listeners.js:compactListeners', 'engine/listeners.js:compactConnection'] },
  { name: 'without: SmallMaps and trimmed lists', without: ['engine/slim.js:slimConnections'] },
  { name: 'without: last frame released', without: ['engine/slim.js:releaseLastFrames'] },
  { name: 'without: coalesced writes', without: ['engine/coalesce.js:coalesceWrites'] },
  { name: 'without: packets held behind CONNECT', without: ['engine/pending-connect.js:holdPacketsUntilConnected'] },
];

const rssOf = (pid) => Number(/^VmRSS:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) * 1024;

async function run(variant) {
  const port = await freePort();
  const memlog = path.join(os.tmpdir(), `tricks-${process.pid}-${port}.jsonl`);
  const child = spawn(
    process.execPath,
    ['--expose-gc', '-r', path.join(__dirname, 'tricks-preload.js'), path.join(ROOT, 'dist', 'server.js'), '--port', String(port), '--host', '127.0.0.1', '--log-level', 'warn', ...(variant.args ?? [])],
    { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, BENCH_WITHOUT: variant.without.join(','), BENCH_MEMLOG: memlog } },
  );
  const warm = new Generator();
  const load = new Generator();
  try {
    for (let tries = 0; ; tries++) {
      if (child.exitCode !== null) throw new Error(`${variant.name}: the server exited with ${child.exitCode}`);
      if (await fetch(`http://127.0.0.1:${port}/healthcheck`).then((r) => r.ok, () => false)) break;
      if (tries > 300) throw new Error(`${variant.name}: the server did not start`);
      await sleep(50);
    }
    const sample = async () => {
      const lines = () => (fs.existsSync(memlog) ? fs.readFileSync(memlog, 'utf8').trim().split('\n').filter(Boolean).length : 0);
      const before = lines();
      child.kill('SIGUSR2');
      while (lines() === before) await sleep(50);
      await sleep(300);
      const usage = JSON.parse(fs.readFileSync(memlog, 'utf8').trim().split('\n').pop());
      return { heap: usage.heapUsed + usage.external, rss: rssOf(child.pid) };
    };
    // Code paths and lazily built state exist before the first reading.
    await warm.setup({ subscribers: { port, nsp: '/layout', rooms: 2, perRoom: ROOM_SIZE, concurrency: 20 } });
    await sleep(300);
    const idle = await sample();
    await load.setup({ subscribers: { port, nsp: '/layout', rooms: CONNECTIONS / ROOM_SIZE, perRoom: ROOM_SIZE, concurrency: 200 } });
    await sleep(1000);
    const connected = await sample();
    const result = {
      heapPerConnection: (connected.heap - idle.heap) / CONNECTIONS,
      rssPerConnection: (connected.rss - idle.rss) / CONNECTIONS,
    };
    if (variant.cut) {
      await load.close();
      await sleep(1500);
      const cut = await sample();
      result.heapPerCutSession = (cut.heap - idle.heap) / CONNECTIONS;
    }
    return result;
  } finally {
    await load.close();
    await warm.close();
    child.kill('SIGTERM');
    await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)));
    fs.rmSync(memlog, { force: true });
  }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

async function main() {
  const runs = new Map(VARIANTS.map((variant) => [variant.name, []]));
  for (let round = 1; round <= ROUNDS; round++) {
    for (const variant of VARIANTS) {
      const result = await run(variant);
      runs.get(variant.name).push(result);
      console.error(`round ${round}, ${variant.name}: heap ${(result.heapPerConnection / 1024).toFixed(2)} KB, RSS ${(result.rssPerConnection / 1024).toFixed(2)} KB per connection` + (result.heapPerCutSession !== undefined ? `; ${(result.heapPerCutSession / 1024).toFixed(2)} KB per cut session` : ''));
    }
  }
  const allOn = runs.get('all on');
  const spread = (key) => Math.max(...allOn.map((r) => r[key])) - Math.min(...allOn.map((r) => r[key]));
  const variants = VARIANTS.map((variant) => {
    const list = runs.get(variant.name);
    const summary = { name: variant.name, without: variant.without, args: variant.args ?? [], runs: list };
    for (const key of ['heapPerConnection', 'rssPerConnection', 'heapPerCutSession']) {
      if (list[0][key] !== undefined) summary[key] = median(list.map((r) => r[key]));
    }
    return summary;
  });
  const result = {
    recordedAt: new Date().toISOString(),
    machine: `${os.cpus().length} × ${os.cpus()[0].model.trim()}, Node ${process.version}`,
    connections: CONNECTIONS,
    roomSize: ROOM_SIZE,
    rounds: ROUNDS,
    noise: { heapPerConnection: spread('heapPerConnection'), rssPerConnection: spread('rssPerConnection') },
    variants,
  };
  const text = JSON.stringify(result, null, 2) + '\n';
  fs.writeFileSync(path.join(__dirname, 'results', 'tricks.json'), text);
  process.stdout.write(text);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
