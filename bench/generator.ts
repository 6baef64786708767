/**
 * The load generator: a child process of run.ts that connects subscribers and publishers to the
 * server under test and runs load points on command (IPC). One process, one event loop: on a
 * 2-core machine the server gets the other core.
 */
import { performance } from 'node:perf_hooks';
import { Histogram } from './lib/histogram';
import { RawHttpConnection, postRequest } from './lib/http-client';
import { cpuTimeUs, machineBusyUs } from './lib/proc';
import type { Command, Load, PointCommand, PointResult, Reply, SetupCommand, SetupResult } from './lib/protocol';
import { WireClient } from './lib/wire';

/** Message ids live in rings of this size (a point sends far fewer). */
const RING = 1 << 21;
const MASK = RING - 1;
const SEQ_DIGITS = 10;
/** Every message is 100 characters: S, a 10-digit sequence number, |, padding. */
const PADDING = 'x'.repeat(100 - 2 - SEQ_DIGITS);
const MARK = Buffer.from('"message":"S');
/** Stands for the sequence number in pre-built frames; as long as it, so lengths hold. */
const SEQ_SLOT = '#'.repeat(SEQ_DIGITS);

const sentAt = new Float64Array(RING);
const remaining = new Int32Array(RING);
const ownerOf = new Int32Array(RING);

interface Publisher {
  index: number;
  rooms: string[];
  nextRoom: number;
  inflight: number;
  send(seq: number, room: string): void;
}

const subscribers: WireClient[] = [];
const publishers: Publisher[] = [];
const httpConnections: RawHttpConnection[] = [];
let fanout = 0; // members per room
let kind: 'ws' | 'http' = 'ws';

let seqCounter = 1;
let running = false;
let measuring = false;
let load: Load = { mode: 'closed', window: 1 };
const counters = { delivered: 0, expected: 0, completed: 0, sent: 0, offered: 0, duplicates: 0, disconnects: 0, httpOk: 0, httpFailed: 0 };
const latency = new Histogram();
const httpLatency = new Histogram();

function seqText(seq: number): string {
  return String(seq).padStart(SEQ_DIGITS, '0');
}

function onEvent(frame: Buffer) {
  const at = frame.indexOf(MARK);
  if (at < 0) return;
  let seq = 0;
  for (let i = at + MARK.length, end = i + SEQ_DIGITS; i < end; i++) seq = seq * 10 + frame[i] - 48;
  const slot = seq & MASK;
  const left = --remaining[slot];
  if (left < 0) {
    counters.duplicates++;
    return;
  }
  counters.delivered++;
  if (measuring) latency.record((performance.now() - sentAt[slot]) * 1000);
  if (left === 0) {
    counters.completed++;
    if (kind === 'ws') {
      const publisher = publishers[ownerOf[slot]];
      publisher.inflight--;
      if (running && load.mode === 'closed') pump(publisher);
    }
  }
}

function sendOne(publisher: Publisher) {
  const seq = seqCounter++;
  const slot = seq & MASK;
  const room = publisher.rooms[publisher.nextRoom];
  publisher.nextRoom = (publisher.nextRoom + 1) % publisher.rooms.length;
  remaining[slot] = fanout;
  ownerOf[slot] = publisher.index;
  sentAt[slot] = performance.now();
  counters.expected += fanout;
  counters.sent++;
  publisher.inflight++;
  publisher.send(seq, room);
}

function pump(publisher: Publisher) {
  const window = load.mode === 'closed' ? (kind === 'http' ? 1 : load.window) : 0;
  while (running && publisher.inflight < window) sendOne(publisher);
}

let ticker: NodeJS.Timeout | undefined;
function startOpenLoop(rate: number, maxInFlight: number) {
  const started = performance.now();
  let next = 0;
  const cap = kind === 'http' ? 1 : maxInFlight;
  ticker = setInterval(() => {
    const due = Math.floor(((performance.now() - started) * rate) / 1000) - counters.offered;
    for (let i = 0; i < due; i++) {
      counters.offered++;
      // Round robin over the publishers; one at its cap skips this message.
      const publisher = publishers[next];
      next = (next + 1) % publishers.length;
      if (publisher.inflight < cap) sendOne(publisher);
    }
  }, 1);
}

function connectSubscriber(port: number, nsp: string, index: number, rooms: number): Promise<WireClient> {
  return WireClient.connect({ port, nsp }).then(async (client) => {
    client.onEvent = onEvent;
    client.onClose = () => {
      counters.disconnects++;
    };
    const room = `r${index % rooms}`;
    await client.request('JOIN', [JSON.stringify({ room, name: `sub${index}` })]);
    return client;
  });
}

async function setup(command: SetupCommand): Promise<SetupResult> {
  const { port, nsp, rooms, perRoom, concurrency } = command.subscribers;
  fanout = perRoom;
  const total = rooms * perRoom;
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const index = next++;
      subscribers[index] = await connectSubscriber(port, nsp, index, rooms);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
  const connectMs = performance.now() - started;

  const spec = command.publishers;
  if (spec) {
    kind = spec.kind;
    for (let p = 0; p < spec.count; p++) {
      const owned: string[] = [];
      for (let r = p; r < rooms; r += spec.count) owned.push(`r${r}`);
      if (owned.length === 0) owned.push(`r${p % rooms}`);
      publishers.push(spec.kind === 'ws' ? await wsPublisher(p, owned, spec.port, spec.nsp) : await httpPublisher(p, owned, spec.port));
    }
  }
  return { subscribers: total, publishers: publishers.length, connectMs, connectionsPerSec: (total * 1000) / connectMs };
}

/** Splits a frame built around a placeholder into what goes before and after the sequence number. */
function template(text: string): [string, string] {
  const [before, after] = text.split(SEQ_SLOT);
  return [before, after];
}

async function wsPublisher(index: number, rooms: string[], port: number, nsp: string): Promise<Publisher> {
  const client = await WireClient.connect({ port, nsp });
  client.onClose = () => {
    counters.disconnects++;
  };
  const frames = new Map(
    rooms.map((room) => [room, template(client.frame('NOTIFY', JSON.stringify({ room, message: `S${SEQ_SLOT}|${PADDING}` })))]),
  );
  return {
    index,
    rooms,
    nextRoom: 0,
    inflight: 0,
    send(seq, room) {
      const [before, after] = frames.get(room) as [string, string];
      client.sendFrame(before + seqText(seq) + after);
    },
  };
}

async function httpPublisher(index: number, rooms: string[], port: number): Promise<Publisher> {
  const connection = await RawHttpConnection.open(port);
  httpConnections.push(connection);
  const requests = new Map(rooms.map((room) => [room, template(postRequest(`/bus-message/${room}`, JSON.stringify(`S${SEQ_SLOT}|${PADDING}`)))]));
  const publisher: Publisher = {
    index,
    rooms,
    nextRoom: 0,
    inflight: 0,
    send(seq, room) {
      const [before, after] = requests.get(room) as [string, string];
      const sent = performance.now();
      connection.request(before + seqText(seq) + after).then((status) => {
        publisher.inflight--;
        if (status === 200) {
          counters.httpOk++;
          if (measuring) httpLatency.record((performance.now() - sent) * 1000);
        } else {
          counters.httpFailed++;
        }
        if (running && load.mode === 'closed') pump(publisher);
      }, () => {
        publisher.inflight--;
        counters.httpFailed++;
      });
    },
  };
  return publisher;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

function snapshot(pids: number[]) {
  return { ...counters, at: performance.now(), mono: Number(process.hrtime.bigint() / 1000n), serverCpu: pids.map(cpuTimeUs), own: process.cpuUsage(), machine: machineBusyUs() };
}

async function point(command: PointCommand): Promise<PointResult> {
  load = command.load;
  for (const key of Object.keys(counters) as (keyof typeof counters)[]) counters[key] = 0;
  running = true;
  if (load.mode === 'closed') for (const publisher of publishers) pump(publisher);
  else startOpenLoop(load.rate, load.maxInFlight);

  await sleep(command.warmupMs);
  latency.reset();
  httpLatency.reset();
  const before = snapshot(command.serverPids);
  measuring = true;
  await sleep(command.durationMs);
  measuring = false;
  const after = snapshot(command.serverPids);
  running = false;
  if (ticker) clearInterval(ticker);
  ticker = undefined;

  // Let what is in flight arrive, bounded in time, then count what never came.
  // Waiting stops early once nothing has arrived for a second (a disconnected subscriber's
  // messages never will).
  const drainUntil = performance.now() + 10_000;
  let progress = { delivered: counters.delivered, at: performance.now() };
  while (counters.delivered < counters.expected && performance.now() < drainUntil) {
    await sleep(20);
    if (counters.delivered !== progress.delivered) progress = { delivered: counters.delivered, at: performance.now() };
    else if (performance.now() - progress.at > 1000) break;
  }
  await sleep(50);
  for (const publisher of publishers) publisher.inflight = 0;

  const seconds = (after.at - before.at) / 1000;
  const delivered = after.delivered - before.delivered;
  const serverCpuByPid = after.serverCpu.map((us, i) => us - before.serverCpu[i]);
  const serverCpuUs = serverCpuByPid.reduce((a, b) => a + b, 0);
  const ownUs = after.own.user + after.own.system - before.own.user - before.own.system;
  const offered = load.mode === 'open' ? load.rate : (after.sent - before.sent) / seconds;
  return {
    load,
    durationS: seconds,
    offeredPerSec: offered,
    sentPerSec: (after.sent - before.sent) / seconds,
    deliveriesPerSec: delivered / seconds,
    messagesPerSec: (after.completed - before.completed) / seconds,
    requestsPerSec: (after.httpOk - before.httpOk) / seconds,
    serverCpuUs,
    serverCpuLoad: serverCpuUs / 1e6 / seconds,
    serverCpuLoadByPid: serverCpuByPid.map((us) => us / 1e6 / seconds),
    cpuUsPerDelivery: delivered > 0 ? serverCpuUs / delivered : NaN,
    generatorCpuLoad: ownUs / 1e6 / seconds,
    // Whatever else ran on the machine meanwhile (other processes, the orchestrator): the
    // figures of a window that shared the cores with it are suspect.
    foreignCpuLoad: Math.max(0, (after.machine - before.machine - serverCpuUs - ownUs) / 1e6 / seconds),
    latencyUs: {
      p50: latency.percentile(0.5),
      p90: latency.percentile(0.9),
      p99: latency.percentile(0.99),
      p999: latency.percentile(0.999),
      max: latency.max,
      samples: latency.count,
    },
    httpLatencyUs: kind === 'http' ? { p50: httpLatency.percentile(0.5), p99: httpLatency.percentile(0.99) } : undefined,
    windowMonoUs: [before.mono, after.mono],
    lost: Math.max(0, counters.expected - counters.delivered),
    duplicates: counters.duplicates,
    disconnects: counters.disconnects,
    httpFailures: counters.httpFailed,
  };
}

function closeAll() {
  for (const client of subscribers) client?.terminate();
  subscribers.length = 0;
  for (const connection of httpConnections) connection.close();
  publishers.length = 0;
}

async function handle(command: Command): Promise<unknown> {
  switch (command.op) {
    case 'setup':
      return setup(command);
    case 'point':
      return point(command);
    case 'close':
      closeAll();
      return {};
  }
}

process.on('message', (message: { id: number; command: Command }) => {
  handle(message.command).then(
    (result) => process.send?.({ id: message.id, ok: true, result } satisfies Reply),
    (error: unknown) => process.send?.({ id: message.id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) } satisfies Reply),
  );
});
process.on('disconnect', () => process.exit(0));
