/**
 * `npm run bench`: runs every workload against our server and the two baselines, writes one
 * JSON result per workload into bench/results/, then bench/RESULTS.md and the chart.
 *
 *   node dist-bench/run.js [--only fanout,many-rooms,connections,http,cluster] [--quick]
 */
import fs from 'node:fs';
import path from 'node:path';
import { writeReport } from './report';
import { ROOT } from './lib/processes';
import type { ServerKind } from './lib/processes';
import { cluster, connections, fanout, httpPublish, manyRooms, type Context, type Settings } from './workloads';

const WORKLOADS = ['fanout', 'many-rooms', 'connections', 'http', 'cluster'] as const;
type Workload = (typeof WORKLOADS)[number];

function openFileLimit(): number {
  const limits = fs.readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+)/m.exec(limits);
  return match ? Number(match[1]) : 1024;
}

function settings(quick: boolean, resultsDir: string): Settings {
  const full: Settings = {
    warmupMs: 700,
    durationMs: 3000,
    sweepWarmupMs: 500,
    sweepDurationMs: 2000,
    fanoutSubscribers: 1000,
    windows: [1, 4, 16, 64],
    sweepFactors: [0.25, 0.5, 0.75, 1, 1.5, 2, 3, 4, 5],
    manyRooms: 1000,
    manyRoomSize: 10,
    manyPublishers: 100,
    manyWindow: 4,
    connections: 10_000,
    connectionRoomSize: 10,
    connectConcurrency: 200,
    httpSubscribers: 100,
    httpConnections: 32,
    clusterSubscribers: 1000,
    clusterWindow: 16,
    retries: 2,
    repeats: 3,
    latencyRepeats: 5,
    resultsDir,
  };
  if (!quick) return full;
  return {
    ...full,
    warmupMs: 300,
    durationMs: 1000,
    sweepWarmupMs: 200,
    sweepDurationMs: 600,
    windows: [4, 16],
    sweepFactors: [0.5, 1, 2],
    manyRooms: 200,
    manyPublishers: 20,
    connections: 2000,
    retries: 0,
    repeats: 1,
    latencyRepeats: 1,
  };
}

async function main() {
  const argv = process.argv.slice(2);
  const flag = (name: string) => argv.includes(`--${name}`);
  const value = (name: string) => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = (value('only')?.split(',') ?? [...WORKLOADS]) as Workload[];
  for (const name of only) if (!WORKLOADS.includes(name)) throw new Error(`unknown workload ${name}; one of ${WORKLOADS.join(', ')}`);
  const kinds = (value('servers')?.split(',') ?? ['bare', 'ours', 'raw']) as ServerKind[];
  const quick = flag('quick');
  const resultsDir = path.join(ROOT, 'bench', quick ? 'results-quick' : 'results');
  fs.mkdirSync(resultsDir, { recursive: true });
  const s = settings(quick, resultsDir);

  // Each process holds one descriptor per connection: the generator and the server each need
  // the connections workload's count plus some.
  const limit = openFileLimit();
  if (limit < s.connections + 500) {
    const fitted = Math.max(1000, Math.floor((limit - 500) / 1000) * 1000);
    console.warn(`open-file limit is ${limit}: the connections workload uses ${fitted} connections instead of ${s.connections} (raise it with ulimit -n)`);
    s.connections = fitted;
  }

  const started = Date.now();
  const log = (line: string) => console.log(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${line}`);
  const context: Context = { settings: s, log };
  const save = (name: string, result: object) => {
    const file = path.join(resultsDir, `${name}.json`);
    fs.writeFileSync(file, JSON.stringify({ ...result, recordedAt: new Date().toISOString(), quick }, null, 2) + '\n');
    log(`wrote ${path.relative(ROOT, file)}`);
  };

  for (const workload of only) {
    if (workload === 'fanout') save('fanout', await fanout(context, kinds));
    if (workload === 'many-rooms') save('many-rooms', await manyRooms(context, kinds));
    if (workload === 'connections') save('connections', await connections(context, kinds));
    if (workload === 'http') save('http-publish', await httpPublish(context, kinds));
    if (workload === 'cluster') save('cluster', await cluster(context, kinds));
  }
  const written = await writeReport(resultsDir, quick);
  for (const file of written) log(`wrote ${path.relative(ROOT, file)}`);
  log('done');
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.stack : error);
  process.exit(1);
});
