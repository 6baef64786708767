import type { Namespace, RemoteSocket } from 'socket.io';
import { localSockets } from '../engine';
import type { SocketData } from '../events';
import type { Logger } from '../logger';

/**
 * The sockets in `room` on every node. When the other nodes cannot be asked (Redis is down),
 * this node's own members are the best answer there is, and the gap is logged.
 */
export async function membersOf<E extends object>(
  nsp: Namespace<never, E, never, SocketData>,
  room: string,
  logger: Logger,
): Promise<RemoteSocket<E, SocketData>[]> {
  try {
    return await nsp.in(room).fetchSockets();
  } catch (error) {
    logger.warn({ err: error }, "other nodes unreachable: answering with this node's members");
    return localSockets(nsp, room);
  }
}
