/** Commands the orchestrator (run.ts) sends a generator process, and what comes back. */

export interface SetupCommand {
  op: 'setup';
  /** Where the subscribers connect. */
  subscribers: { port: number; nsp: string; rooms: number; perRoom: number; concurrency: number };
  /** Where the publishers connect; HTTP publishers POST to `/bus-message/ROOM`. */
  publishers?: { kind: 'ws' | 'http'; port: number; nsp: string; count: number };
}

export interface SetupResult {
  subscribers: number;
  publishers: number;
  /** From the first connection attempt to the last JOIN acknowledged. */
  connectMs: number;
  connectionsPerSec: number;
}

/** Closed loop: each publisher keeps `window` messages in flight (HTTP: one request per connection). */
export type Load = { mode: 'closed'; window: number } | { mode: 'open'; rate: number; maxInFlight: number };

export interface PointCommand {
  op: 'point';
  load: Load;
  warmupMs: number;
  durationMs: number;
  /** Processes whose CPU time is the server's: the node(s) under test, and Redis in cluster mode. */
  serverPids: number[];
}

export interface PointResult {
  load: Load;
  durationS: number;
  /** NOTIFYs (or POSTs) per second the load asked for; for a closed loop, what it sent. */
  offeredPerSec: number;
  sentPerSec: number;
  deliveriesPerSec: number;
  /** Messages whose every subscriber got them, per second. */
  messagesPerSec: number;
  /** HTTP publishing: answered 200 per second. */
  requestsPerSec: number;
  serverCpuUs: number;
  /** Server CPU time / wall time (1 = one core busy). */
  serverCpuLoad: number;
  /** The same, for each of the command's `serverPids`. */
  serverCpuLoadByPid: number[];
  cpuUsPerDelivery: number;
  /** The generator's own CPU time / wall time, to show it was not the limit. */
  generatorCpuLoad: number;
  /** CPU used by other processes on the machine during the window (1 = one core). */
  foreignCpuLoad: number;
  latencyUs: { p50: number; p90: number; p99: number; p999: number; max: number; samples: number };
  httpLatencyUs?: { p50: number; p99: number };
  /** The measured window on CLOCK_MONOTONIC in µs, the clock of V8's CPU profiles. */
  windowMonoUs: [number, number];
  /** After the load stopped and the pipeline drained: deliveries that never came, and extras. */
  lost: number;
  duplicates: number;
  disconnects: number;
  httpFailures: number;
  /** How many times the point was measured (see `measure()` in workloads.ts). */
  attempts?: number;
}

export interface CloseCommand {
  op: 'close';
}

export type Command = SetupCommand | PointCommand | CloseCommand;

export type Reply = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };
