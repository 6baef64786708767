import type { Namespace, RemoteSocket } from 'socket.io';
import { Adapter } from 'socket.io-adapter';

/**
 * The sockets of `nsp` on this node, in `room` when given, read by the in-memory adapter alone.
 * The cluster adapters of the sharded and streams modes (socket.io-adapter's `ClusterAdapter`)
 * ask Redis how many nodes there are even for `nsp.local.fetchSockets()`, and so fail while Redis
 * is away: just when this node's own sockets are the answer wanted.
 */
export function localSockets<E extends object, D>(nsp: Namespace<any, E, any, D>, room?: string): Promise<RemoteSocket<E, D>[]> {
  const opts = { rooms: new Set(room === undefined ? [] : [room]), except: new Set<string>(), flags: { local: true } };
  // The in-memory adapter hands over the sockets themselves, which offer what a RemoteSocket does.
  return Adapter.prototype.fetchSockets.call(nsp.adapter, opts) as unknown as Promise<RemoteSocket<E, D>[]>;
}
