/**
 * Writes bench/RESULTS.md and the fan-out chart from the JSON results of a run. Also runs on
 * its own (`node dist-bench/report.js`) to redraw them from the JSON files already there.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadChartSpec, renderSvg, type LoadRow } from './lib/chart';
import { ROOT, SERVER_LABELS, type ServerKind } from './lib/processes';
import type { ProfileSummary } from './lib/profile';
import type { PointResult } from './lib/protocol';
import type { ClusterResult, ConnectionsResult, FanoutResult, HttpResult, ManyRoomsResult } from './workloads';

const KINDS: ServerKind[] = ['ours', 'bare', 'raw'];

/** An idle connection may cost at most this share of bare Socket.IO's RSS. */
const MEMORY_GOAL = 0.75;

/** What `node bench/tricks.js` writes: per variant of the service, the medians over the rounds. */
interface TricksResult {
  recordedAt: string;
  machine: string;
  connections: number;
  roomSize: number;
  rounds: number;
  noise: { heapPerConnection: number; rssPerConnection: number };
  variants: { name: string; heapPerConnection: number; rssPerConnection: number; heapPerCutSession?: number }[];
}

const int = (n: number) => (Number.isFinite(n) ? Math.round(n).toLocaleString('en') : '–');
const fixed = (n: number, digits = 2) => (Number.isFinite(n) ? n.toFixed(digits) : '–');
const ms = (us: number) => (Number.isFinite(us) ? `${(us / 1000).toFixed(us < 10_000 ? 2 : 1)}` : '–');
const pct = (share: number) => `${(share * 100).toFixed(0)} %`;
const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
/** KB to the hundredth (a difference is signed), with no `-0.00`. */
const kb2 = (bytes: number) => `${(Math.round(bytes / 10.24) / 100 || 0).toFixed(2)} KB`;
const mb = (bytes: number) => `${(bytes / 1048576).toFixed(1)} MB`;
const times = (n: number) => (Number.isFinite(n) ? `${n.toFixed(2)}×` : '–');

/** bench/relayed-polls.js's result. */
interface RelayedPollsResult {
  count: number;
  direct: { median: number; p90: number; p99: number };
  relayed: { median: number; p90: number; p99: number };
  extra: { median: number; p90: number };
  machine: string;
  recordedAt: string;
}

function read<T>(dir: string, name: string): T | undefined {
  const file = path.join(dir, `${name}.json`);
  return fs.existsSync(file) ? (JSON.parse(fs.readFileSync(file, 'utf8')) as T) : undefined;
}

function table(header: string[], rows: (string | number)[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n');
}

function pointRow(label: string, p: PointResult): string[] {
  const clean = p.lost === 0 && p.duplicates === 0 && p.disconnects === 0;
  return [
    label,
    int(p.deliveriesPerSec),
    fixed(p.cpuUsPerDelivery),
    pct(p.serverCpuLoad),
    pct(p.generatorCpuLoad),
    pct(p.foreignCpuLoad),
    ms(p.latencyUs.p50),
    ms(p.latencyUs.p99),
    clean ? 'none' : `lost ${p.lost}, dup ${p.duplicates}, disc ${p.disconnects}`,
  ];
}

const POINT_HEADER = ['', 'deliveries/s', 'server CPU µs/delivery', 'server CPU', 'generator CPU', 'other processes', 'p50 ms', 'p99 ms', 'lost/dup'];

function profileSection(title: string, profile: ProfileSummary | undefined): string {
  if (!profile) return '';
  const areas = profile.selfByArea.slice(0, 8).map((a) => `${a.area} ${pct(a.share)}`).join(', ');
  const inclusive = profile.inclusiveByArea.filter((a) => !a.area.startsWith('node (other)')).slice(0, 8).map((a) => `${a.area} ${pct(a.share)}`).join(', ');
  const top = profile.topSelf.slice(0, 8).map((f) => `\`${f.fn}\` ${pct(f.share)}`).join(', ');
  return [
    `**Profile: ${title}** (\`--cpu-prof\`, measured window only, ${int(profile.busyMs)} ms busy, ${int(profile.idleMs)} ms idle)`,
    '',
    `- self time by area: ${areas}`,
    `- on the stack (inclusive): ${inclusive}`,
    `- top functions (self): ${top}`,
  ].join('\n');
}

/** Name of the largest self-time area, as the bottleneck a profile shows. */
function bottleneck(profile: ProfileSummary | undefined): string {
  const first = profile?.selfByArea.find((a) => a.area !== 'V8/native (unattributed)');
  return first ? `${first.area} (${pct(first.share)} of busy time)` : 'n/a';
}

function verdict(ok: boolean | undefined): string {
  return ok === undefined ? 'not measured' : ok ? '**holds**' : '**missed**';
}

/** What `node bench/redis-modes.js --out bench/results/redis-modes.json` writes. */
interface RedisModesResult {
  nodes: number;
  roomsPerNode: number;
  subscribersPerRoom: number;
  recordedAt?: string;
  results: { mode: string; notifies: number; bytesPerNotifyPerNode: number; messagesPerNotifyPerNode: number; busiestNodeBytesPerNotify: number; bytesVsClassic?: number }[];
}

export async function writeReport(dir: string, quick: boolean): Promise<string[]> {
  const fanout = read<FanoutResult>(dir, 'fanout');
  const many = read<ManyRoomsResult>(dir, 'many-rooms');
  const conns = read<ConnectionsResult>(dir, 'connections');
  const http = read<HttpResult>(dir, 'http-publish');
  const cluster = read<ClusterResult>(dir, 'cluster');
  const modes = read<RedisModesResult>(dir, 'redis-modes');
  // Written by bench/relayed-polls.js, run on its own; not part of the run's time span.
  const relayed = read<RelayedPollsResult>(dir, 'relayed-polls');
  const written: string[] = [];
  const out: string[] = [];
  const recorded = [fanout, many, conns, http, cluster].map((r) => (r as { recordedAt?: string } | undefined)?.recordedAt).filter(Boolean).sort();
  const cpus = os.cpus();

  out.push('# Benchmark results', '');
  out.push('<!-- Written by `npm run bench` (bench/report.ts) from bench/results/*.json: edit those, not this file. -->', '');
  out.push(
    `Run of ${recorded[0] ?? '?'} – ${recorded[recorded.length - 1] ?? '?'}${quick ? ' (**--quick**: shortened smoke run, not for comparison)' : ''}, on ${cpus.length} × ${cpus[0]?.model ?? '?'}, ` +
      `${Math.round(os.totalmem() / 2 ** 30)} GiB, Linux ${os.release()}, Node ${process.version}. Servers on loopback, each its own process; ` +
      'one load generator process (raw Engine.IO v4 / Socket.IO frames over `ws`, see [README.md](README.md)). ' +
      'Absolute figures drift on a shared machine, so the targets are ratios between servers measured in the same run with the same generator. ' +
      'Each window says how much CPU *other* processes took meanwhile; a window where they took over 15 % of a core was measured again (up to twice) and the least disturbed kept.',
    '',
  );

  // ------------------------------------------------------------------ targets
  const ours = fanout?.servers.ours;
  const bare = fanout?.servers.bare;
  const raw = fanout?.servers.raw;
  const throughputRatio = ours && bare ? ours.saturation.deliveriesPerSec / bare.saturation.deliveriesPerSec : NaN;
  const cpuRatio = ours && bare ? ours.saturation.cpuUsPerDelivery / bare.saturation.cpuUsPerDelivery : NaN;
  const oursHalf = ours?.halfBare;
  const bareHalf = bare?.halfBare;
  const latencyRatio = oursHalf && bareHalf ? oursHalf.latencyUs.p99 / bareHalf.latencyUs.p99 : NaN;
  const memOurs = conns?.servers.ours?.bytesPerConnection;
  const memBare = conns?.servers.bare?.bytesPerConnection;
  const memRaw = conns?.servers.raw?.bytesPerConnection;
  const memRatio = memOurs !== undefined && memBare ? memOurs / memBare : NaN;

  out.push('## Summary', '');
  out.push(
    `On a 2-core machine, relaying a NOTIFY to a room of ${int((fanout?.params.subscribers as number) ?? NaN)}, the service delivers ${int(ours?.saturation.deliveriesPerSec ?? NaN)} messages/s at saturation, ` +
      `${times(throughputRatio)} a bare Socket.IO 4 server (${int(bare?.saturation.deliveriesPerSec ?? NaN)}) ${ours && raw ? `and ${times(ours.saturation.deliveriesPerSec / raw.saturation.deliveriesPerSec)} a plain \`ws\` broadcast server` : '(the raw `ws` baseline was not run)'}, ` +
      `at ${fixed(ours?.saturation.cpuUsPerDelivery ?? NaN)} µs of server CPU per delivery (${times(cpuRatio)} bare Socket.IO's): the writes of one event-loop turn leave in one system call per socket. ` +
      `At half of bare Socket.IO's saturation rate its p99 latency is ${ms(oursHalf?.latencyUs.p99 ?? NaN)} ms against ${ms(bareHalf?.latencyUs.p99 ?? NaN)} ms. ` +
      `An idle connection costs ${memOurs === undefined ? '?' : kb(memOurs)} of RSS, ${times(memRatio)} bare Socket.IO's ${memBare === undefined ? '?' : kb(memBare)}. ` +
      'Reproduce with `npm run bench` (about 10 minutes; see [README.md](README.md)).',
    '',
  );
  out.push('## Targets', '');
  out.push(
    table(
      ['target', 'websocket-service', 'bare Socket.IO 4', 'raw ws', 'ours ÷ bare', 'goal', 'result'],
      [
        ['fan-out: deliveries/s at saturation', int(ours?.saturation.deliveriesPerSec ?? NaN), int(bare?.saturation.deliveriesPerSec ?? NaN), int(raw?.saturation.deliveriesPerSec ?? NaN), times(throughputRatio), '≥ 2×', verdict(Number.isFinite(throughputRatio) ? throughputRatio >= 2 : undefined)],
        ['fan-out: server CPU µs per delivery at saturation', fixed(ours?.saturation.cpuUsPerDelivery ?? NaN), fixed(bare?.saturation.cpuUsPerDelivery ?? NaN), fixed(raw?.saturation.cpuUsPerDelivery ?? NaN), times(cpuRatio), '≤ 0.5×', verdict(Number.isFinite(cpuRatio) ? cpuRatio <= 0.5 : undefined)],
        ['server RSS per idle connection', memOurs === undefined ? '–' : kb(memOurs), memBare === undefined ? '–' : kb(memBare), memRaw === undefined ? '–' : kb(memRaw), times(memRatio), '≤ 0.75×', verdict(Number.isFinite(memRatio) ? memRatio <= MEMORY_GOAL : undefined)],
        [`fan-out: p99 ms at half the bare baseline's saturation rate (${int((fanout?.bareSaturationRate ?? NaN) / 2)} NOTIFY/s)`, ms(oursHalf?.latencyUs.p99 ?? NaN), ms(bareHalf?.latencyUs.p99 ?? NaN), ms(raw?.halfBare.latencyUs.p99 ?? NaN), times(latencyRatio), '≤ 1×', verdict(Number.isFinite(latencyRatio) ? latencyRatio <= 1 : undefined)],
        ['fan-out: p99 ms at half of each server\'s own saturation rate (for reference: ours then carries several times the load, at higher CPU)', ms(ours?.halfOwn.latencyUs.p99 ?? NaN), ms(bare?.halfOwn.latencyUs.p99 ?? NaN), ms(raw?.halfOwn.latencyUs.p99 ?? NaN), times(ours && bare ? ours.halfOwn.latencyUs.p99 / bare.halfOwn.latencyUs.p99 : NaN), '–', `ours carries ${times(ours && bare ? ours.halfOwn.deliveriesPerSec / bare.halfOwn.deliveriesPerSec : NaN)} the load there`],
      ],
    ),
    '',
  );
  if (memRatio > MEMORY_GOAL) {
    out.push(
      `**Memory misses its target**: an idle connection costs ${times(memRatio)} bare Socket.IO's RSS in this run, against at most ${times(MEMORY_GOAL)}. ` +
        'What each piece of the engine work saves is under (c).',
      '',
    );
  }

  if (oursHalf && bareHalf && latencyRatio > 1) {
    const spread = (runs: PointResult[] | undefined) => {
      const p99s = (runs ?? []).map((p) => p.latencyUs.p99).sort((a, b) => a - b);
      return p99s.length ? `${ms(p99s[0])}–${ms(p99s[p99s.length - 1])} ms` : '?';
    };
    out.push(
      `**Latency misses its target** by ${((latencyRatio - 1) * 100).toFixed(0)} % (${ms(oursHalf.latencyUs.p99)} ms against ${ms(bareHalf.latencyUs.p99)} ms, medians of ${fanout?.params.latencyRepeats ?? fanout?.params.repeats ?? 1} runs), ` +
        `inside the spread of the runs themselves (ours ${spread(ours?.halfBareRuns)}, bare Socket.IO ${spread(bare?.halfBareRuns)}). ` +
        'At this rate a NOTIFY is alone in its turn, so the service sends each socket its packet straight away, with the same system calls as engine.io alone; ' +
        `what it adds per delivery is bookkeeping (${fixed(oursHalf.cpuUsPerDelivery)} against ${fixed(bareHalf.cpuUsPerDelivery)} µs of CPU here). ` +
        'The p99 is the time to write the whole fan-out of 1,000, and that is the same work for both; from the baseline\'s saturation rate on, where turns carry more than one NOTIFY, ours is far below it (table below).',
      '',
    );
  }

  // ------------------------------------------------------------------ (a)
  if (fanout) {
    out.push('## (a) Fan-out', '');
    out.push(
      `One room of ${int(fanout.params.subscribers as number)} subscribers on \`/layout\`, one publisher (not in the room) sending \`NOTIFY\` with a 100-character message; each NOTIFY is one \`EVENT\` delivery per subscriber. ` +
        'Closed loop: the publisher keeps a fixed number of NOTIFYs in flight (a NOTIFY is done when all subscribers have it). ' +
        `Open loop: NOTIFYs at a fixed rate, in multiples of the bare baseline's saturation rate (${int(fanout.bareSaturationRate)} NOTIFY/s), at most 64 in flight. ` +
        'Latency is from the NOTIFY being written by the publisher to the EVENT being read by each subscriber, so a NOTIFY to 1,000 sockets has 1,000 latencies: the p99 is close to the time the server takes to write the whole fan-out.',
      '',
    );
    out.push('![Fan-out: throughput and p99 latency against offered load](results/fanout.svg)', '');
    out.push(`Closed loop, each window ${fanout.params.repeats ?? 1} times per server, servers in turn; the median run of each:`, '');
    const rows: string[][] = [];
    const windowOf = (point: PointResult) => (point.load.mode === 'closed' ? point.load.window : NaN);
    for (const kind of KINDS) {
      const result = fanout.servers[kind];
      if (!result) continue;
      for (const point of result.closed) rows.push(pointRow(`${SERVER_LABELS[kind]}, ${windowOf(point)} in flight${windowOf(point) === windowOf(result.saturation) ? ' (best)' : ''}`, point));
    }
    out.push(table(POINT_HEADER, rows), '');
    out.push('Saturation: the window whose median run delivered most, and all its runs:', '');
    out.push(table(POINT_HEADER, KINDS.flatMap((kind) => {
      const result = fanout.servers[kind];
      return result ? [pointRow(`${SERVER_LABELS[kind]}, ${windowOf(result.saturation)} in flight (runs: ${result.saturationRuns.map((p) => int(p.deliveriesPerSec)).join(', ')})`, result.saturation)] : [];
    })), '');
    out.push('Open loop, each rate once per server, servers in turn:', '');
    const sweepRows: string[][] = [];
    for (const kind of KINDS) {
      const result = fanout.servers[kind];
      if (!result) continue;
      for (const point of [...result.sweep, result.halfOwn]) {
        const rate = point.load.mode === 'open' ? point.load.rate : NaN;
        sweepRows.push(pointRow(`${SERVER_LABELS[kind]}, ${int(rate)} NOTIFY/s${point === result.halfOwn ? ' (half its own saturation)' : ''}`, point));
      }
    }
    out.push(table(POINT_HEADER, sweepRows), '');
    out.push(`At half the bare baseline's saturation rate, the median (by p99) of ${fanout.params.latencyRepeats ?? fanout.params.repeats ?? 1} runs per server:`, '');
    out.push(table(POINT_HEADER, KINDS.flatMap((kind) => {
      const result = fanout.servers[kind];
      return result ? [pointRow(`${SERVER_LABELS[kind]} (p99 of the runs: ${result.halfBareRuns.map((p) => ms(p.latencyUs.p99)).join(', ')} ms)`, result.halfBare)] : [];
    })), '');
    out.push(profileSection('websocket-service at fan-out saturation', fanout.profile), '');

    const chartRows: LoadRow[] = [];
    const fanoutSize = fanout.params.subscribers as number;
    for (const kind of KINDS) {
      for (const point of fanout.servers[kind]?.sweep ?? []) {
        if (point.load.mode !== 'open') continue;
        chartRows.push({ server: SERVER_LABELS[kind], offered: point.load.rate * fanoutSize, achieved: point.deliveriesPerSec, p99Ms: point.latencyUs.p99 / 1000 });
      }
    }
    const svg = await renderSvg(loadChartSpec(chartRows, `Fan-out to ${int(fanoutSize)} subscribers (open loop)`, 'deliveries/s'));
    const chartFile = path.join(dir, 'fanout.svg');
    fs.writeFileSync(chartFile, svg);
    written.push(chartFile);
  }

  // ------------------------------------------------------------------ (b)
  if (many) {
    out.push('## (b) Many rooms', '');
    out.push(
      `${int(many.params.rooms as number)} rooms of ${many.params.roomSize} subscribers on \`/layout\`, ${many.params.publishers} publishers each sending to its own ${Math.round((many.params.rooms as number) / (many.params.publishers as number))} rooms in turn, ${many.params.windowPerPublisher} NOTIFYs in flight per publisher (closed loop).`,
      '',
    );
    out.push(table(POINT_HEADER, KINDS.flatMap((kind) => (many.servers[kind] ? [pointRow(SERVER_LABELS[kind], (many.servers[kind] as { saturation: PointResult }).saturation)] : []))), '');
    const o = many.servers.ours?.saturation;
    const b = many.servers.bare?.saturation;
    if (o && b) out.push(`Ours ÷ bare: ${times(o.deliveriesPerSec / b.deliveriesPerSec)} the deliveries/s at ${times(o.cpuUsPerDelivery / b.cpuUsPerDelivery)} the CPU per delivery. Bottleneck in the profile: ${bottleneck(many.profile)}.`, '');
    out.push(profileSection('websocket-service, many rooms', many.profile), '');
  }

  // ------------------------------------------------------------------ (c)
  if (conns) {
    out.push('## (c) Connections', '');
    out.push(
      `${int(conns.params.connections as number)} WebSocket connections, opened ${conns.params.concurrency} at a time (Engine.IO handshake, \`/layout\` namespace, \`JOIN\` a room of ${conns.params.roomSize} with ack), then left idle. ` +
        'RSS is read from /proc after two forced full GCs (every server runs with the same preload, `bench/servers/gc-preload.ts`), before the first connection and after the last; the difference per connection is the figure.',
      '',
    );
    out.push(
      table(
        ['', 'connections/s (to JOIN acked)', 'RSS before', 'RSS connected', 'RSS connected, before GC', 'RSS per connection', 'server CPU while idle'],
        KINDS.flatMap((kind) => {
          const r = conns.servers[kind];
          return r ? [[SERVER_LABELS[kind], int(r.setup.connectionsPerSec), mb(r.rssIdleBytes), mb(r.rssConnectedBytes), mb(r.rssConnectedNoGcBytes), kb(r.bytesPerConnection), r.idleCpuLoad === undefined ? '–' : `${(r.idleCpuLoad * 100).toFixed(1)} %`]] : [];
        }),
      ),
      '',
    );
  }

  const tricks = read<TricksResult>(dir, 'tricks');
  if (tricks) {
    const allOn = tricks.variants.find((v) => v.name === 'all on');
    const off = tricks.variants.find((v) => v.name.startsWith('recovery off'));
    const without = tricks.variants.filter((v) => v.name.startsWith('without: '));
    out.push(
      '### What each piece of engine work saves',
      '',
      `Measured with \`node bench/tricks.js\` (recorded ${tricks.recordedAt.slice(0, 10)}, ${tricks.machine}): the service started once per variant without one piece (a no-op in place of its install function), ` +
        `${int(tricks.connections)} idle \`/layout\` members that each JOINed a room of ${tricks.roomSize}, ${tricks.rounds} rounds with the variants in turn, medians. ` +
        'Heap is V8\'s `heapUsed` plus `external` after two full collections; it is the steadier figure, RSS also carries the young generation and allocator pages. ' +
        `Noise is the spread of the ${tricks.rounds} "all on" runs: ${fixed(tricks.noise.heapPerConnection / 1024)} KB of heap, ${fixed(tricks.noise.rssPerConnection / 1024)} KB of RSS per connection.`,
      '',
    );
    if (allOn) {
      out.push(
        table(
          ['', 'heap per connection', 'RSS per connection', 'saved per connection (heap)', 'saved (RSS)'],
          [
            ['all on', kb2(allOn.heapPerConnection), kb2(allOn.rssPerConnection), '', ''],
            ...without.map((v) => [v.name, kb2(v.heapPerConnection), kb2(v.rssPerConnection), kb2(v.heapPerConnection - allOn.heapPerConnection), kb2(v.rssPerConnection - allOn.rssPerConnection)]),
          ],
        ),
        '',
      );
      const withinNoise = without.filter((v) => Math.abs(v.heapPerConnection - allOn.heapPerConnection) <= Math.max(tricks.noise.heapPerConnection, 0.05 * 1024));
      if (withinNoise.length > 0) {
        out.push(
          `Within the noise: ${withinNoise.map((v) => v.name.replace('without: ', '')).join(', ')}. Those are not there for memory: coalesced writes save system calls (table (a)), ` +
            'and packets held behind a namespace CONNECT are a fix (events sent right behind it were lost); they are measured to show they cost none.',
          '',
        );
      }
      if (allOn.heapPerCutSession !== undefined && off?.heapPerCutSession !== undefined) {
        out.push(
          `A **disconnected session kept for recovery** (the generator cuts every connection, no Socket.IO disconnect, and the heap is read 1.5 s later) holds ${kb2(allOn.heapPerCutSession - off.heapPerCutSession)} of heap ` +
            `(${kb(allOn.heapPerCutSession)} left per cut connection with recovery on, ${kb(off.heapPerCutSession)} with \`--recovery-window 0\`: code compiled meanwhile and tables that keep their size).`,
          '',
        );
      }
    }
  }

  // ------------------------------------------------------------------ (d)
  if (http) {
    out.push('## (d) HTTP publish', '');
    out.push(
      `\`POST /bus-message/ROOM\` with a 102-byte JSON string body over ${http.params.connections} keep-alive connections, one request at a time on each (closed loop), into a room of ${http.params.subscribers} \`/bus\` subscribers. ` +
        'The baselines answer the same route with plain `http` (no framework): read the body, `JSON.parse`, emit, `200 OK`.',
      '',
    );
    out.push(
      table(
        ['', 'requests/s', 'server CPU µs/request', 'server CPU', 'generator CPU', 'other processes', 'request p50 ms', 'request p99 ms', 'delivery p99 ms', 'failures'],
        KINDS.flatMap((kind) => {
          const p = http.servers[kind]?.saturation;
          if (!p) return [];
          const requests = p.requestsPerSec * p.durationS;
          return [[SERVER_LABELS[kind], int(p.requestsPerSec), fixed(p.serverCpuUs / Math.max(1, requests), 1), pct(p.serverCpuLoad), pct(p.generatorCpuLoad), pct(p.foreignCpuLoad), ms(p.httpLatencyUs?.p50 ?? NaN), ms(p.httpLatencyUs?.p99 ?? NaN), ms(p.latencyUs.p99), String(p.httpFailures + p.lost)]];
        }),
      ),
      '',
    );
    const o = http.servers.ours?.saturation;
    const b = http.servers.bare?.saturation;
    if (o && b) out.push(`Ours ÷ bare: ${times(o.requestsPerSec / b.requestsPerSec)} the requests/s. Bottleneck in the profile: ${bottleneck(http.profile)}.`, '');
    out.push(profileSection('websocket-service, HTTP publish', http.profile), '');
  }

  // ------------------------------------------------------------------ (e)
  if (cluster) {
    out.push('## (e) Cluster', '');
    out.push(
      `Two nodes linked through one Redis (\`--redis\`; the baseline uses @socket.io/redis-adapter the same way): ${int(cluster.params.subscribers as number)} subscribers on node A, the publisher on node B, ${cluster.params.windowInFlight} NOTIFYs in flight. ` +
        'Server CPU is nodes A and B and Redis together; the machine has two cores for the three of them and the generator.',
      '',
    );
    out.push(
      table(
        [...POINT_HEADER, 'node A / node B / Redis CPU'],
        KINDS.flatMap((kind) => {
          const r = cluster.servers[kind];
          return r ? [[...pointRow(SERVER_LABELS[kind], r.saturation), `${pct(r.cpuLoadByProcess.nodeA)} / ${pct(r.cpuLoadByProcess.nodeB)} / ${pct(r.cpuLoadByProcess.redis)}`]] : [];
        }),
      ),
      '',
    );
    const o = cluster.servers.ours?.saturation;
    const b = cluster.servers.bare?.saturation;
    if (o && b) out.push(`Ours ÷ bare: ${times(o.deliveriesPerSec / b.deliveriesPerSec)} the deliveries/s. Bottleneck in the profiles: node A ${bottleneck(cluster.profiles?.subscriberNode)}; node B ${bottleneck(cluster.profiles?.publisherNode)}.`, '');
    out.push(profileSection('websocket-service, cluster, node A (subscribers)', cluster.profiles?.subscriberNode), '');
    out.push(profileSection('websocket-service, cluster, node B (publisher)', cluster.profiles?.publisherNode), '');
  }

  // ------------------------------------------------------------------ (f)
  if (modes) {
    out.push('## (f) Redis modes', '');
    out.push(
      `What one node takes in from Redis per NOTIFY in each \`--redis-mode\` (\`node bench/redis-modes.js\`, recorded ${modes.recordedAt?.slice(0, 10) ?? '?'}): ` +
        `${modes.nodes} nodes on one Redis, each with ${modes.roomsPerNode} room of its own (${modes.subscribersPerRoom} subscribers and the publisher on that node), NOTIFYs to the rooms in turn, one at a time. ` +
        'Bytes are all that Redis sends the node on all its connections (replies, pushes, stream entries, the readiness probe), counted by a TCP relay; messages are pub/sub pushes and stream entries. Per NOTIFY sent anywhere, averaged over the nodes.',
      '',
    );
    out.push(
      table(
        ['mode', 'NOTIFYs', 'bytes in / NOTIFY / node', 'messages in / NOTIFY / node', 'busiest node, bytes / NOTIFY', 'bytes vs classic'],
        modes.results.map((r) => [r.mode, int(r.notifies), int(r.bytesPerNotifyPerNode), fixed(r.messagesPerNotifyPerNode, 2), int(r.busiestNodeBytesPerNotify), r.bytesVsClassic === undefined ? '' : `${fixed(r.bytesVsClassic, 2)}×`]),
      ),
      '',
    );
    out.push(
      'Classic pub/sub sends every broadcast to every node; sharded pub/sub with a channel per room only to the nodes with members in the room (here the publisher\'s own node, which hears its message back, and the SPUBLISH reply); ' +
        'streams sends every entry to every node\'s reader, plus the XADD reply carrying the offset, and its entries are larger (a field per part of the message).',
      '',
    );
  }

  // ------------------------------------------------------------------ (g)
  if (relayed) {
    out.push('## (g) Relayed polls: a cluster without sticky sessions', '');
    out.push(
      `Two nodes (\`dist/server.js\` each, \`--redis\` on one local redis-server). ${int(relayed.count)} round trips over Engine.IO v4 long-polling to a session held by node A: ` +
        'a JOIN POSTed with an acknowledgement, and the pending poll that brings the ack back, timed from the POST to the ack. ' +
        'Directly to A, and through node B, which relays both requests to A; the two alternate. ' +
        `Measured with \`node bench/relayed-polls.js\` on ${relayed.machine}, ${relayed.recordedAt}; the client, both nodes and Redis share the machine's cores.`,
      '',
    );
    const row = (label: string, r: { median: number; p90: number; p99: number }) => [label, fixed(r.median), fixed(r.p90), fixed(r.p99)];
    out.push(
      table(['round trip, ms', 'median', 'p90', 'p99'], [row('direct to the holding node', relayed.direct), row('relayed by the other node', relayed.relayed)]),
      '',
    );
    out.push(`Relaying adds ${fixed(relayed.extra.median)} ms to the median round trip and ${fixed(relayed.extra.p90)} ms to the p90: one more HTTP hop on loopback for each of its two requests.`, '');
  }

  // ------------------------------------------------------------------ findings
  const share = (profile: ProfileSummary | undefined, area: string, inclusive = false) => {
    const list = inclusive ? profile?.inclusiveByArea : profile?.selfByArea;
    const found = list?.find((a) => a.area === area);
    return found ? pct(found.share) : '?';
  };
  const fnShare = (profile: ProfileSummary | undefined, pattern: RegExp) => {
    const total = (profile?.topSelf ?? []).filter((f) => pattern.test(f.fn)).reduce((sum, f) => sum + f.share, 0);
    return pct(total);
  };
  out.push('## What the profiles say', '');
  out.push(
    '- **Fan-out.** Before: one `writev()` per message per socket, most of the cost. Now one per socket per event-loop turn ' +
      `(\`src/coalesce.ts\`); at saturation the socket system calls are ${share(fanout?.profile, 'socket syscalls (native)')} of the busy time, GC ${share(fanout?.profile, 'GC')}, ` +
      `Socket.IO's adapter loop over the room ${share(fanout?.profile, 'socket.io-adapter')}, engine.io ${share(fanout?.profile, 'engine.io')}. ` +
      'A turn that finds the server idle (nothing written for a millisecond) sends each socket its first packet at once, as engine.io does, so a lone message does not wait for the end of the turn; ' +
      'while the server is busy every write waits for it. Below the baseline\'s saturation the two servers do the same system calls, and their latencies are the same within the noise of a shared machine.',
  );
  out.push(
    `- **Many rooms.** The bottleneck is the socket writes (${share(many?.profile, 'socket syscalls (native)')} of busy time): each subscriber gets a few messages a second, so there is nothing to coalesce ` +
      'and every delivery is its own `writev()`, for bare Socket.IO and for us alike; the raw `ws` ceiling pays the same system calls with less around them. ' +
      `Of ours: the slow-consumer sweep (\`src/limits.ts\`, every 100 ms over every client) ${fnShare(many?.profile, /limits\.js/)}, the service's handlers ${share(many?.profile, 'service code')} ` +
      '(the NOTIFY payload is parsed twice, by socket.io-parser and then as the documented JSON string). ' +
      'Fix where it is ours: make the sweep look only at sockets with something queued (it walks all 10,000 idle ones ten times a second; it also shows as CPU on an idle server, see (c)).',
  );
  out.push(
    `- **Connections.** Per idle connection the service gave back what it added: the handshake request is released (\`src/lean.ts\`, about 1.4 KB: engine.io kept the \`IncomingMessage\` through its upgrade response wrapper) ` +
      'and the per-connection EventEmitter tables are rebuilt compact (`src/listeners.ts`, about 1 KB). What remains above bare Socket.IO is the service\'s own per-socket state: ' +
      'each verb handler is a new closure per socket (`verb()` wrapper, its `refuse`, the handler, in `src/namespaces/rooms.ts` and `src/protocol.ts`), and the metrics resolve a prom-client child with bound functions per socket per verb plus a `disconnect` listener (`src/metrics.ts`), about 2.5 KB together. ' +
      'Shared handlers (Socket.IO calls listeners with `this` = the socket) and counters resolved once per namespace would take ours about 2.5 KB below bare. ' +
      `The slow-consumer sweep costs ${conns?.servers.ours?.idleCpuLoad === undefined ? '?' : `${(conns.servers.ours.idleCpuLoad * 100).toFixed(0)} %`} of a core with ${int((conns?.params.connections as number) ?? NaN)} idle connections (bare: ${conns?.servers.bare?.idleCpuLoad === undefined ? '?' : `${(conns.servers.bare.idleCpuLoad * 100).toFixed(0)} %`}).`,
  );
  out.push(
    `- **HTTP publish.** Each request fans out to ${http?.params.subscribers ?? '?'} sockets, and that is what bounds the baselines (one \`writev()\` per delivery); ours coalesces the deliveries of the requests answered in one turn, so it publishes several times as many. ` +
      `What is left is HTTP: Node's HTTP server ${share(http?.profile, 'node http')} and Express ${share(http?.profile, 'express')} of self time (on the stack: Express ${share(http?.profile, 'express', true)}, body-parser/raw-body ${share(http?.profile, 'raw-body', true)}), ` +
      `including an ETag (a SHA-1 of the reply, \`Hash\` ${fnShare(http?.profile, /^Hash /)}) that Express computes for every \`200 OK\`. ` +
      'Fix where it is ours (`src/http.ts`): `app.set(\'etag\', false)`, and read the small JSON body without the generic raw-body pipeline.',
  );
  out.push(
    `- **Cluster.** Node A (the subscribers' node) is the bottleneck, at ${cluster?.servers.ours ? pct(cluster.servers.ours.cpuLoadByProcess.nodeA) : '?'} of a core against node B's ${cluster?.servers.ours ? pct(cluster.servers.ours.cpuLoadByProcess.nodeB) : '?'} and Redis's ${cluster?.servers.ours ? pct(cluster.servers.ours.cpuLoadByProcess.redis) : '?'}; ` +
      `its time goes to the socket writes (${share(cluster?.profiles?.subscriberNode, 'socket syscalls (native)')}), with ioredis and its parser ${share(cluster?.profiles?.subscriberNode, 'ioredis', true)} on the stack (that includes the broadcasts they call). ` +
      'ioredis hands over a burst of Redis messages in one read, so the writes coalesce across the messages of a turn just as for a local publisher. Nothing in the Redis path is ours to fix.',
  );
  out.push('');

  out.push('## Reproduce', '');
  out.push('```sh\nnpm ci\nnpm run bench            # about 10 minutes; writes bench/results/*.json, this file and results/fanout.svg\nnpm run bench -- --only fanout,connections --servers ours,bare   # a part of it\nnpm run build && node bench/redis-modes.js --out bench/results/redis-modes.json && tsc -p bench/tsconfig.json && node dist-bench/report.js   # (f) alone\n```', '');
  out.push('Needs Linux (/proc), `redis-server` on PATH for the cluster workload, and an open-file limit of at least 16,000 (`ulimit -n`). See [README.md](README.md) for what each workload does.', '');

  const file = path.join(ROOT, 'bench', quick ? 'RESULTS-quick.md' : 'RESULTS.md');
  fs.writeFileSync(file, out.join('\n'));
  written.push(file);
  return written;
}

if (require.main === module) {
  const quick = process.argv.includes('--quick');
  writeReport(path.join(ROOT, 'bench', quick ? 'results-quick' : 'results'), quick).then(
    (files) => files.forEach((f) => console.log(`wrote ${path.relative(ROOT, f)}`)),
    (error: unknown) => {
      console.error(error);
      process.exit(1);
    },
  );
}
