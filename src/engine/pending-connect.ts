import path from 'node:path';
import type { Server } from 'socket.io';
import type { ClientInternals, ClientModule, DecodedPacket, HeldPackets } from './internals';

/** socket.io-parser's packet types that open a namespace and refuse it. */
const CONNECT = 0;
const CONNECT_ERROR = 4;

/**
 * Most packets one connection may have kept at a time, over all its namespaces. The clients that
 * need this send one event behind their CONNECT; 1.x/2.x/4.x clients wait for the answer.
 */
export const MAX_HELD_PACKETS = 64;

/** The servers that keep early packets, each with its byte bound: its engine's `maxHttpBufferSize`. */
const byteBounds = new WeakMap<Server, number>();

/** Socket.IO's own methods, once replaced. */
let originals: Pick<ClientInternals, 'ondecoded' | '_packet'> | undefined;

/** About what a kept packet weighs: its payload as JSON, binary parts by their length. */
function weigh(packet: DecodedPacket): number {
  let binary = 0;
  try {
    const text = JSON.stringify(packet.data ?? null, function (this: Record<string, unknown>, key: string, value: unknown) {
      const raw = this[key];
      if (ArrayBuffer.isView(raw) || raw instanceof ArrayBuffer) {
        binary += raw.byteLength;
        return null;
      }
      return value;
    });
    return text.length + binary;
  } catch {
    // Too deeply nested to write out: no bound would admit it.
    return Infinity;
  }
}

function keep(client: ClientInternals, held: HeldPackets, namespace: string, packet: DecodedPacket): void {
  const queue = held.queues.get(namespace)!;
  const bytes = weigh(packet);
  if (held.count >= MAX_HELD_PACKETS || held.bytes + bytes > byteBounds.get(client.server)!) {
    // Past the bound, Socket.IO's own answer to packets for a namespace that is not connected.
    client.close();
    return;
  }
  queue.packets.push(packet);
  queue.bytes += bytes;
  held.count += 1;
  held.bytes += bytes;
}

/**
 * Once a namespace's CONNECT is answered (and, on success, its socket registered and the
 * namespace's `connection` handlers run), what came for it meanwhile is handled in order. After
 * a refusal it is dropped, up to a new CONNECT of the same namespace, which is handled anew.
 */
function settle(client: ClientInternals, namespace: string): void {
  const held = client.heldPackets;
  const queue = held?.queues.get(namespace);
  if (!held || !queue) return;
  held.queues.delete(namespace);
  held.count -= queue.packets.length;
  held.bytes -= queue.bytes;
  if (held.queues.size === 0) client.heldPackets = undefined;
  let replay = queue.packets;
  if (!client.nsps.has(namespace)) {
    const retry = replay.findIndex((packet) => packet.type === CONNECT);
    replay = retry < 0 ? [] : replay.slice(retry);
  }
  for (const packet of replay) {
    if (client.conn.readyState !== 'open') return;
    client.ondecoded(packet);
  }
}

/** Stands in for `Client.prototype.ondecoded`: packets for a namespace being connected are kept. */
function ondecoded(this: ClientInternals, packet: DecodedPacket): void {
  const held = this.heldPackets;
  if (held === undefined && (packet.type !== CONNECT || !byteBounds.has(this.server))) {
    originals!.ondecoded.call(this, packet);
    return;
  }
  const { namespace } = this._parseNamespace(packet);
  if (held?.queues.has(namespace)) {
    keep(this, held, namespace, packet);
    return;
  }
  if (packet.type === CONNECT && !this.nsps.has(namespace)) {
    (this.heldPackets ??= { queues: new Map(), count: 0, bytes: 0 }).queues.set(namespace, { packets: [], bytes: 0 });
  }
  originals!.ondecoded.call(this, packet);
}

/** Stands in for `Client.prototype._packet`: a CONNECT's answer ends the wait for it. */
function packet(this: ClientInternals, out: DecodedPacket | unknown[], opts?: unknown): void {
  const held = this.heldPackets;
  if (held !== undefined && !Array.isArray(out) && (out.type === CONNECT || out.type === CONNECT_ERROR) && held.queues.has(out.nsp)) {
    // Written before Socket.IO registers the socket and runs the `connection` handlers.
    process.nextTick(settle, this, out.nsp);
  }
  originals!._packet.call(this, out, opts);
}

/**
 * Keeps the packets a client sends for a namespace whose CONNECT is still being handled, and
 * handles them in order once the namespace is connected.
 *
 * Socket.IO 4 connects a namespace asynchronously (its middleware runs, then a tick later the
 * socket is registered), and closes the whole connection when a packet arrives for a namespace
 * that has no socket yet. Python's socketIO-client 0.6/0.7 sends an event right behind the
 * CONNECT without waiting for the answer; when both arrive in one read (one TCP segment over
 * WebSocket, one POST over polling) the connection was closed and the event lost. socket.io 1.x
 * relayed it.
 *
 * The wait runs from the CONNECT received to the answer written (CONNECT or CONNECT_ERROR), on
 * Engine.IO v3 and v4 alike (v4 clients wait for the answer, so for them nothing changes).
 * After a refusal the kept packets are dropped: the client was told with `connect_error`.
 * A connection may keep {@link MAX_HELD_PACKETS} packets and the engine's `maxHttpBufferSize`
 * in bytes at a time; past that it is closed, as Socket.IO closes it for such packets.
 *
 * `Client` is not exported by socket.io, so its prototype is patched, once per process; clients
 * of servers that did not call this go straight to Socket.IO's own methods.
 */
export function holdPacketsUntilConnected(io: Server): void {
  byteBounds.set(io, io.engine.opts.maxHttpBufferSize ?? 1e6);
  if (originals) return;
  const { Client } = require(path.join(path.dirname(require.resolve('socket.io')), 'client.js')) as ClientModule;
  originals = { ondecoded: Client.prototype.ondecoded, _packet: Client.prototype._packet };
  Client.prototype.ondecoded = ondecoded;
  Client.prototype._packet = packet;
}
