import type { Server } from 'socket.io';
import { coalesceWrites } from './coalesce';
import { releaseHandshakeRequests } from './lean';
import { compactListeners } from './listeners';

/**
 * The service's performance work on a Socket.IO server, applied once after `io.attach()` and
 * after the namespaces are registered: one system call per socket per event-loop turn
 * ({@link coalesceWrites}), no HTTP request kept per connection ({@link releaseHandshakeRequests})
 * and compact listener tables ({@link compactListeners}).
 */
export function tuneServer(io: Server): void {
  coalesceWrites(io.engine);
  releaseHandshakeRequests(io.engine);
  compactListeners(io);
}
