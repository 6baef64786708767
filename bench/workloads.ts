import path from 'node:path';
import { summariseProfile, type ProfileSummary } from './lib/profile';
import { Generator, sleep, startRedis, startServer, type RunningProcess, type ServerKind } from './lib/processes';
import { cpuTimeUs, rssBytes } from './lib/proc';
import type { PointCommand, PointResult, SetupResult } from './lib/protocol';

/** Durations and sizes of one bench run; `--quick` shrinks them for a smoke test. */
export interface Settings {
  warmupMs: number;
  durationMs: number;
  sweepWarmupMs: number;
  sweepDurationMs: number;
  fanoutSubscribers: number;
  windows: number[];
  sweepFactors: number[];
  manyRooms: number;
  manyRoomSize: number;
  manyPublishers: number;
  manyWindow: number;
  connections: number;
  connectionRoomSize: number;
  connectConcurrency: number;
  httpSubscribers: number;
  httpConnections: number;
  clusterSubscribers: number;
  clusterWindow: number;
  /** Extra attempts at a point that other processes disturbed. */
  retries: number;
  /** Runs of the points the targets compare (saturation, half the baseline's saturation). */
  repeats: number;
  /**
   * Runs at half the baseline's saturation, whose p99 the latency target compares: a p99 there
   * spreads by half its value from run to run, on both servers, so it takes more runs.
   */
  latencyRepeats: number;
  resultsDir: string;
}

export interface Context {
  settings: Settings;
  log: (line: string) => void;
}

const logDir = (context: Context) => path.join(context.settings.resultsDir, 'logs');
const profileDir = (context: Context) => path.join(context.settings.resultsDir, 'profiles');

async function withServer<T>(context: Context, kind: ServerKind, run: (server: RunningProcess) => Promise<T>, options: { profile?: string; redis?: string } = {}): Promise<T> {
  const server = await startServer(kind, {
    logDir: logDir(context),
    redis: options.redis,
    profileDir: options.profile ? profileDir(context) : undefined,
    profileName: options.profile,
  });
  try {
    return await run(server);
  } finally {
    await server.stop();
  }
}

async function withGenerator<T>(run: (generator: Generator) => Promise<T>): Promise<T> {
  const generator = new Generator();
  try {
    return await run(generator);
  } finally {
    await generator.close();
  }
}

function describePoint(label: string, point: PointResult): string {
  const l = point.latencyUs;
  return `${label}: ${Math.round(point.deliveriesPerSec).toLocaleString('en')} deliveries/s, ${point.cpuUsPerDelivery.toFixed(2)} µs CPU/delivery, server ${(point.serverCpuLoad * 100).toFixed(0)} % CPU, generator ${(point.generatorCpuLoad * 100).toFixed(0)} %, others ${(point.foreignCpuLoad * 100).toFixed(0)} %, p50 ${(l.p50 / 1000).toFixed(2)} ms, p99 ${(l.p99 / 1000).toFixed(2)} ms${point.lost || point.duplicates || point.disconnects ? `, LOST ${point.lost} DUP ${point.duplicates} DISC ${point.disconnects}` : ''}`;
}

/** Other processes' CPU (in cores) above which a window is measured again. */
const DISTURBED = 0.15;

/**
 * One load point, measured again (up to `retries` more times) while other processes on the
 * machine took more than {@link DISTURBED} of a core during the window; the least disturbed
 * attempt is kept, and says how many were made.
 */
async function measure(context: Context, generator: Generator, command: Omit<PointCommand, 'op'>, label: string): Promise<PointResult> {
  let best: PointResult | undefined;
  for (let attempt = 1; attempt <= 1 + context.settings.retries; attempt++) {
    const point = await generator.point(command);
    if (!best || point.foreignCpuLoad < best.foreignCpuLoad) best = { ...point, attempts: attempt };
    if (point.foreignCpuLoad <= DISTURBED) break;
    context.log(`  ${label}: other processes took ${(point.foreignCpuLoad * 100).toFixed(0)} % of a core during the window${attempt <= context.settings.retries ? ', measuring again' : ''}`);
    await sleep(500);
  }
  const point = best as PointResult;
  context.log(describePoint(`  ${label}`, point));
  return point;
}

// ---------------------------------------------------------------------------------------------
// (a) fan-out

export interface FanoutServerResult {
  setup: SetupResult;
  /** Per window, the median (by deliveries/s) of its runs. */
  closed: PointResult[];
  /** The best of those: the median run at the window that delivered most. */
  saturation: PointResult;
  saturationRuns: PointResult[];
  /** Open loop at factors of the bare baseline's saturation rate. */
  sweep: PointResult[];
  /** Open loop at half the bare baseline's saturation rate: the median (by p99) of the runs. */
  halfBare: PointResult;
  halfBareRuns: PointResult[];
  /** Open loop at half of this server's own saturation rate: the median (by p99) of the runs. */
  halfOwn: PointResult;
  halfOwnRuns: PointResult[];
}

export interface FanoutResult {
  workload: 'fanout';
  params: Record<string, unknown>;
  servers: Partial<Record<ServerKind, FanoutServerResult>>;
  /** NOTIFY/s at which bare Socket.IO saturates; the sweep's unit. */
  bareSaturationRate: number;
  profile?: ProfileSummary;
}

function median(points: PointResult[], key: (point: PointResult) => number): PointResult {
  const sorted = [...points].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor((sorted.length - 1) / 2)];
}

interface Rig {
  kind: ServerKind;
  server: RunningProcess;
  generator: Generator;
  setup: SetupResult;
}

/**
 * All servers run side by side, each with its own generator, and every load point is measured
 * on each in turn: whatever else the machine does drifts over all of them alike.
 */
export async function fanout(context: Context, kinds: ServerKind[]): Promise<FanoutResult> {
  const s = context.settings;
  context.log(`(a) fan-out: 1 room of ${s.fanoutSubscribers} subscribers, 1 publisher, 100-byte messages`);
  const order = (['bare', 'ours', 'raw'] as ServerKind[]).filter((k) => k === 'bare' || kinds.includes(k));
  const rigs: Rig[] = [];
  try {
    for (const kind of order) {
      const server = await startServer(kind, { logDir: logDir(context) });
      const generator = new Generator();
      rigs.push({ kind, server, generator, setup: undefined as unknown as SetupResult });
      rigs[rigs.length - 1].setup = await generator.setup({
        subscribers: { port: server.port, nsp: '/layout', rooms: 1, perRoom: s.fanoutSubscribers, concurrency: 100 },
        publishers: { kind: 'ws', port: server.port, nsp: '/layout', count: 1 },
      });
    }
    const at = (rig: Rig, load: PointResult['load'], warmupMs: number, durationMs: number, label: string) =>
      measure(context, rig.generator, { load, warmupMs, durationMs, serverPids: [rig.server.pid] }, `${rig.kind} ${label}`);

    // Every window `repeats` times, servers in turn; per window the median run counts, and the
    // window whose median delivers most is the server's saturation.
    const runsAt = new Map<string, PointResult[]>();
    for (let rep = 0; rep < s.repeats; rep++) {
      for (const window of s.windows) {
        for (const rig of rigs) {
          const key = `${rig.kind}/${window}`;
          const point = await at(rig, { mode: 'closed', window }, s.warmupMs, s.durationMs, `closed loop, ${window} in flight${rep ? ` (run ${rep + 1})` : ''}`);
          runsAt.set(key, [...(runsAt.get(key) ?? []), point]);
        }
      }
    }
    const closed = new Map<ServerKind, PointResult[]>(order.map((k) => [k, s.windows.map((w) => median(runsAt.get(`${k}/${w}`) as PointResult[], (p) => p.deliveriesPerSec))]));
    const saturationRuns = new Map<ServerKind, PointResult[]>();
    const saturation = new Map<ServerKind, PointResult>();
    for (const kind of order) {
      const medians = closed.get(kind) as PointResult[];
      const best = medians.reduce((a, b) => (b.deliveriesPerSec > a.deliveriesPerSec ? b : a));
      saturation.set(kind, best);
      saturationRuns.set(kind, runsAt.get(`${kind}/${best.load.mode === 'closed' ? best.load.window : 0}`) as PointResult[]);
    }
    const bareRate = (saturation.get('bare') as PointResult).messagesPerSec;
    context.log(`  saturation: ${order.map((k) => `${k} ${Math.round(saturation.get(k)?.deliveriesPerSec ?? NaN)} deliveries/s`).join(', ')}`);

    const open = (rate: number) => ({ mode: 'open' as const, rate, maxInFlight: 64 });
    const sweep = new Map<ServerKind, PointResult[]>(order.map((k) => [k, []]));
    for (const factor of s.sweepFactors) {
      for (const rig of rigs) sweep.get(rig.kind)?.push(await at(rig, open(bareRate * factor), s.sweepWarmupMs, s.sweepDurationMs, `open loop at ${factor} × bare saturation (${Math.round(bareRate * factor)} NOTIFY/s)`));
    }
    const halfIndex = s.sweepFactors.indexOf(0.5);
    const halfRuns = new Map<ServerKind, PointResult[]>(order.map((k) => [k, halfIndex >= 0 ? [(sweep.get(k) as PointResult[])[halfIndex]] : []]));
    for (let rep = halfIndex >= 0 ? 1 : 0; rep < s.latencyRepeats; rep++) {
      for (const rig of rigs) halfRuns.get(rig.kind)?.push(await at(rig, open(bareRate / 2), s.sweepWarmupMs, s.durationMs, `open loop at half bare saturation (repeat ${rep})`));
    }
    const halfOwnRuns = new Map<ServerKind, PointResult[]>(order.map((k) => [k, []]));
    for (let rep = 0; rep < s.repeats; rep++) {
      for (const rig of rigs) halfOwnRuns.get(rig.kind)?.push(await at(rig, open((saturation.get(rig.kind) as PointResult).messagesPerSec / 2), s.sweepWarmupMs, s.durationMs, `open loop at half its own saturation${rep ? ` (run ${rep + 1})` : ''}`));
    }
    const halfOwn = new Map([...halfOwnRuns].map(([kind, runs]) => [kind, median(runs, (p) => p.latencyUs.p99)]));

    const servers: FanoutResult['servers'] = {};
    for (const rig of rigs) {
      servers[rig.kind] = {
        setup: rig.setup,
        closed: closed.get(rig.kind) as PointResult[],
        saturation: saturation.get(rig.kind) as PointResult,
        saturationRuns: saturationRuns.get(rig.kind) as PointResult[],
        sweep: sweep.get(rig.kind) as PointResult[],
        halfBare: median(halfRuns.get(rig.kind) as PointResult[], (p) => p.latencyUs.p99),
        halfBareRuns: halfRuns.get(rig.kind) as PointResult[],
        halfOwn: halfOwn.get(rig.kind) as PointResult,
        halfOwnRuns: halfOwnRuns.get(rig.kind) as PointResult[],
      };
    }
    for (const rig of rigs.splice(0)) {
      await rig.generator.close();
      await rig.server.stop();
    }

    // Where the time goes now: our server alone, profiled at the window that saturated it.
    const best = servers.ours?.saturation.load ?? { mode: 'closed', window: s.windows[s.windows.length - 1] };
    const profiled = await withServer(context, 'ours', (server) => withGenerator(async (generator) => {
      await generator.setup({
        subscribers: { port: server.port, nsp: '/layout', rooms: 1, perRoom: s.fanoutSubscribers, concurrency: 100 },
        publishers: { kind: 'ws', port: server.port, nsp: '/layout', count: 1 },
      });
      return measure(context, generator, { load: best, warmupMs: s.warmupMs, durationMs: s.durationMs, serverPids: [server.pid] }, 'ours (profiled) at saturation');
    }), { profile: 'fanout-ours' });
    return {
      workload: 'fanout',
      params: { subscribers: s.fanoutSubscribers, messageBytes: 100, windows: s.windows, sweepFactors: s.sweepFactors, repeats: s.repeats, latencyRepeats: s.latencyRepeats, durationMs: s.durationMs },
      servers,
      bareSaturationRate: bareRate,
      profile: summariseProfile(path.join(profileDir(context), 'fanout-ours.cpuprofile'), profiled.windowMonoUs),
    };
  } finally {
    for (const rig of rigs) {
      await rig.generator.close();
      await rig.server.stop();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// (b) many rooms

export interface LoadServerResult {
  setup: SetupResult;
  saturation: PointResult;
  half?: PointResult;
}

export interface ManyRoomsResult {
  workload: 'many-rooms';
  params: Record<string, unknown>;
  servers: Partial<Record<ServerKind, LoadServerResult>>;
  profile?: ProfileSummary;
}

export async function manyRooms(context: Context, kinds: ServerKind[]): Promise<ManyRoomsResult> {
  const s = context.settings;
  context.log(`(b) many rooms: ${s.manyRooms} rooms of ${s.manyRoomSize}, ${s.manyPublishers} publishers, ${s.manyWindow} in flight each`);
  const servers: ManyRoomsResult['servers'] = {};
  const run = (kind: ServerKind, profile?: string) => withServer(context, kind, (server) => withGenerator(async (generator) => {
    const setup = await generator.setup({
      subscribers: { port: server.port, nsp: '/layout', rooms: s.manyRooms, perRoom: s.manyRoomSize, concurrency: 200 },
      publishers: { kind: 'ws', port: server.port, nsp: '/layout', count: s.manyPublishers },
    });
    const saturation = await measure(context, generator, { load: { mode: 'closed', window: s.manyWindow }, warmupMs: s.warmupMs, durationMs: s.durationMs, serverPids: [server.pid] }, `${kind}${profile ? ' (profiled)' : ''} saturation`);
    return { setup, saturation };
  }), { profile });
  for (const kind of kinds) servers[kind] = await run(kind);
  const profiledRun = await run('ours', 'many-rooms-ours');
  return {
    workload: 'many-rooms',
    params: { rooms: s.manyRooms, roomSize: s.manyRoomSize, publishers: s.manyPublishers, windowPerPublisher: s.manyWindow, durationMs: s.durationMs },
    servers,
    profile: summariseProfile(path.join(profileDir(context), 'many-rooms-ours.cpuprofile'), profiledRun.saturation.windowMonoUs),
  };
}

// ---------------------------------------------------------------------------------------------
// (c) connections

export interface ConnectionsServerResult {
  setup: SetupResult;
  rssIdleBytes: number;
  rssConnectedBytes: number;
  /** Before the forced GC, for reference. */
  rssConnectedNoGcBytes: number;
  bytesPerConnection: number;
  /** Server CPU (1 = a core) while the connections sit idle: timers and sweeps per connection. */
  idleCpuLoad: number;
}

export interface ConnectionsResult {
  workload: 'connections';
  params: Record<string, unknown>;
  servers: Partial<Record<ServerKind, ConnectionsServerResult>>;
}

async function settledRss(pid: number): Promise<number> {
  // Two full collections (the second frees what the first's finalizers released), then a pause.
  for (let i = 0; i < 2; i++) {
    process.kill(pid, 'SIGUSR2');
    await sleep(300);
  }
  return rssBytes(pid);
}

export async function connections(context: Context, kinds: ServerKind[]): Promise<ConnectionsResult> {
  const s = context.settings;
  context.log(`(c) connections: ${s.connections} idle connections, each joined to a room of ${s.connectionRoomSize}`);
  const servers: ConnectionsResult['servers'] = {};
  for (const kind of kinds) {
    servers[kind] = await withServer(context, kind, (server) => withGenerator(async (generator) => {
      // A few connections first, so that code paths and lazily built state exist before the baseline.
      await sleep(300);
      const rssIdleBytes = await settledRss(server.pid);
      const setup = await generator.setup({
        subscribers: { port: server.port, nsp: '/layout', rooms: Math.ceil(s.connections / s.connectionRoomSize), perRoom: s.connectionRoomSize, concurrency: s.connectConcurrency },
      });
      await sleep(1000);
      const rssConnectedNoGcBytes = rssBytes(server.pid);
      const rssConnectedBytes = await settledRss(server.pid);
      const cpuBefore = cpuTimeUs(server.pid);
      await sleep(2000);
      const idleCpuLoad = (cpuTimeUs(server.pid) - cpuBefore) / 2e6;
      const result = { setup, rssIdleBytes, rssConnectedBytes, rssConnectedNoGcBytes, bytesPerConnection: (rssConnectedBytes - rssIdleBytes) / setup.subscribers, idleCpuLoad };
      context.log(`  ${kind}: ${Math.round(setup.connectionsPerSec)} connections/s, ${(result.bytesPerConnection / 1024).toFixed(2)} KB RSS per connection (idle ${(rssIdleBytes / 1048576).toFixed(1)} MB, connected ${(rssConnectedBytes / 1048576).toFixed(1)} MB), ${(idleCpuLoad * 100).toFixed(1)} % CPU while idle`);
      return result;
    }));
  }
  return { workload: 'connections', params: { connections: s.connections, roomSize: s.connectionRoomSize, concurrency: s.connectConcurrency }, servers };
}

// ---------------------------------------------------------------------------------------------
// (d) HTTP publish

export interface HttpResult {
  workload: 'http-publish';
  params: Record<string, unknown>;
  servers: Partial<Record<ServerKind, LoadServerResult>>;
  profile?: ProfileSummary;
}

export async function httpPublish(context: Context, kinds: ServerKind[]): Promise<HttpResult> {
  const s = context.settings;
  context.log(`(d) HTTP publish: POST /bus-message into a room of ${s.httpSubscribers} on /bus, ${s.httpConnections} keep-alive connections`);
  const run = (kind: ServerKind, profile?: string) => withServer(context, kind, (server) => withGenerator(async (generator) => {
    const setup = await generator.setup({
      subscribers: { port: server.port, nsp: '/bus', rooms: 1, perRoom: s.httpSubscribers, concurrency: 50 },
      publishers: { kind: 'http', port: server.port, nsp: '/bus', count: s.httpConnections },
    });
    const saturation = await measure(context, generator, { load: { mode: 'closed', window: 1 }, warmupMs: s.warmupMs, durationMs: s.durationMs, serverPids: [server.pid] }, `${kind}${profile ? ' (profiled)' : ''}`);
    context.log(`  ${kind}: ${Math.round(saturation.requestsPerSec).toLocaleString('en')} requests/s, ${(saturation.serverCpuUs / Math.max(1, saturation.requestsPerSec * saturation.durationS)).toFixed(1)} µs CPU/request, p99 request ${((saturation.httpLatencyUs?.p99 ?? NaN) / 1000).toFixed(2)} ms`);
    return { setup, saturation };
  }), { profile });
  const servers: HttpResult['servers'] = {};
  for (const kind of kinds) servers[kind] = await run(kind);
  const profiledRun = await run('ours', 'http-ours');
  return {
    workload: 'http-publish',
    params: { subscribers: s.httpSubscribers, connections: s.httpConnections, durationMs: s.durationMs },
    servers,
    profile: summariseProfile(path.join(profileDir(context), 'http-ours.cpuprofile'), profiledRun.saturation.windowMonoUs),
  };
}

// ---------------------------------------------------------------------------------------------
// (e) cluster

export interface ClusterResult {
  workload: 'cluster';
  params: Record<string, unknown>;
  servers: Partial<Record<ServerKind, LoadServerResult & { cpuLoadByProcess: { nodeA: number; nodeB: number; redis: number } }>>;
  profiles?: { subscriberNode: ProfileSummary; publisherNode: ProfileSummary };
}

export async function cluster(context: Context, kinds: ServerKind[]): Promise<ClusterResult> {
  const s = context.settings;
  context.log(`(e) cluster: ${s.clusterSubscribers} subscribers on node A, publisher on node B, through Redis`);
  const run = async (kind: ServerKind, profile?: string) => {
    const redis = await startRedis();
    try {
      const redisAddress = `127.0.0.1:${redis.port}`;
      return await withServer(context, kind, (nodeA) => withServer(context, kind, (nodeB) => withGenerator(async (generator) => {
        const setup = await generator.setup({
          subscribers: { port: nodeA.port, nsp: '/layout', rooms: 1, perRoom: s.clusterSubscribers, concurrency: 100 },
          publishers: { kind: 'ws', port: nodeB.port, nsp: '/layout', count: 1 },
        });
        const pids = [nodeA.pid, nodeB.pid, redis.pid];
        const saturation = await measure(context, generator, { load: { mode: 'closed', window: s.clusterWindow }, warmupMs: s.warmupMs, durationMs: s.durationMs, serverPids: pids }, `${kind}${profile ? ' (profiled)' : ''} node A + node B + Redis`);
        return { setup, saturation, cpuLoadByProcess: { nodeA: saturation.serverCpuLoadByPid[0], nodeB: saturation.serverCpuLoadByPid[1], redis: saturation.serverCpuLoadByPid[2] } };
      }), { redis: redisAddress, profile: profile && `${profile}-publisher-node` }), { redis: redisAddress, profile: profile && `${profile}-subscriber-node` });
    } finally {
      await redis.stop();
    }
  };
  const servers: ClusterResult['servers'] = {};
  for (const kind of kinds.filter((k) => k !== 'raw')) servers[kind] = await run(kind);
  const profiledRun = await run('ours', 'cluster-ours');
  const window = profiledRun.saturation.windowMonoUs;
  return {
    workload: 'cluster',
    params: { subscribers: s.clusterSubscribers, windowInFlight: s.clusterWindow, durationMs: s.durationMs },
    servers,
    profiles: {
      subscriberNode: summariseProfile(path.join(profileDir(context), 'cluster-ours-subscriber-node.cpuprofile'), window),
      publisherNode: summariseProfile(path.join(profileDir(context), 'cluster-ours-publisher-node.cpuprofile'), window),
    },
  };
}

