import { performance } from 'node:perf_hooks';
import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';
import { noteWritten } from './buffers';
import { engineSocketOf, type EngineSocketInternals as SocketInternals } from './internals';

/** engine.io's own `Socket.prototype.flush`, found on the first connection. */
let engineFlush: ((this: SocketInternals) => void) | undefined;

/** A server that has written nothing for this long (ms) is idle: the next turn is eager. */
export const IDLE_MS = 1;

/** Sockets with packets written during this event-loop turn, flushed once the turn ends. */
let pending = new Set<SocketInternals>();
let scheduled = false;
/** Counts the turns that wrote; a socket remembers the last one it wrote straight through in. */
let turn = 0;
/** Whether each socket's first write of this turn goes straight out (see {@link deferredFlush}). */
let eager = true;
/** Whether the last turn gave some socket more than one packet: the load is one that coalesces. */
let batched = false;
/** When the last turn's writes, and the write callbacks that follow them, were done. */
let busyUntil = -Infinity;

function markBusy(): void {
  busyUntil = performance.now();
}

/** Writes out what each socket was sent during the turn: one system call each. */
function flushPending(): void {
  scheduled = false;
  turn++;
  const batch = pending;
  pending = new Set();
  batched = false;
  for (const socket of batch) {
    if (socket.transport.writable && (socket.writeBuffer.length > 1 || socket.coalesceTurn === turn - 1)) batched = true;
    try {
      const raw = socket.transport.socket?._socket;
      // Corked, the frames that transport.send() writes one by one leave in one writev().
      if (raw && socket.transport.writable && !raw.destroyed) {
        raw.cork();
        try {
          engineFlush?.call(socket);
        } finally {
          raw.uncork();
        }
      } else {
        engineFlush?.call(socket);
      }
    } catch {
      // One broken connection must not hold back the others' writes: it is closed instead.
      try {
        socket.close(true);
      } catch {
        // already gone
      }
    }
  }
  // After the write callbacks these writes queue (they run on the next tick, before this).
  process.nextTick(markBusy);
}

/**
 * Stands in for engine.io's `flush()` on WebSocket connections: instead of handing each packet
 * to the transport as it is written (a frame, and a system call, per packet and per socket),
 * the socket is queued and its buffer flushed when the event-loop turn ends.
 *
 * Unless the turn is `eager`: when the last turn gave no socket a second packet (waiting would
 * not have saved a write) or the server has been idle, a socket's first packet of the turn goes
 * straight out, as engine.io does, and only what follows it waits for the end of the turn.
 */
function deferredFlush(this: SocketInternals): void {
  noteWritten(this);
  if (this.transport.name !== 'websocket') {
    engineFlush?.call(this);
    return;
  }
  if (this.writeBuffer.length === 0) return;
  if (!scheduled) {
    scheduled = true;
    eager = !batched || performance.now() - busyUntil > IDLE_MS;
    setImmediate(flushPending);
  }
  if (eager && this.coalesceTurn !== turn && this.transport.writable) {
    this.coalesceTurn = turn;
    engineFlush?.call(this);
    return;
  }
  pending.add(this);
}

/**
 * Coalesces the writes of one event-loop turn per WebSocket connection.
 *
 * A broadcast to N sockets makes engine.io write one frame per socket at once, and several
 * broadcasts in one turn (a burst of NOTIFYs, a batch from Redis, concurrent HTTP publishes)
 * make as many system calls per socket; the system call is most of what a delivery costs. Here
 * the packets a turn sends a socket stay in engine.io's own write buffer, in order, Socket.IO's
 * pre-encoded broadcast frames untouched, and leave in one corked `writev()` per socket when the
 * turn ends (`setImmediate`).
 *
 * Waiting for the end of the turn only pays when more than one packet comes: so while turns give
 * sockets one packet each (light load), or after the server has been idle for {@link IDLE_MS},
 * each socket's first packet of a turn is sent at once and only the rest are coalesced (two
 * system calls per socket at most, in such a turn); once a turn has batched, the following ones
 * hold every write back (one system call per socket per turn).
 *
 * Long-polling connections are left as they are: their packets already wait for the next poll.
 * Backpressure is engine.io's, unchanged: a socket whose previous write has not completed keeps
 * its packets buffered until the transport drains, and they are flushed then.
 */
export function coalesceWrites(engine: EngineServer): void {
  engine.on('connection', (socket: EngineSocket) => {
    const internals = engineSocketOf(socket);
    const own = Object.getPrototypeOf(internals).flush as (this: SocketInternals) => void;
    engineFlush ??= own;
    // One engine.io per process is the rule; a second copy's sockets are left as they are.
    if (own !== engineFlush) return;
    internals.coalesceTurn = -1;
    internals.flush = deferredFlush;
  });
}
