import type { Server } from 'socket.io';
import type { NamespaceName } from '../events';
import type { Logger } from '../logger';
import { registerLobby } from './lobby';
import { registerRooms, type RoomNamespace } from './rooms';
import { registerTrigger } from './trigger';
import type { NamespaceDeps } from './verb';

/** How each namespace is registered: `/layout` and `/bus` speak the same verbs. */
const REGISTER: { [N in NamespaceName]: (io: Server, deps: NamespaceDeps) => unknown } = {
  '/layout': (io, deps) => registerRooms(io, '/layout', deps),
  '/bus': (io, deps) => registerRooms(io, '/bus', deps),
  '/lobby': registerLobby,
  '/trigger': registerTrigger,
};

/**
 * The namespaces whose 4.x clients recover what they missed while away. Not `/trigger`: its
 * clients include python-socketio (Engine.IO v4 too), whose handlers would choke on the offset.
 */
export const RECOVERING_NAMESPACES: readonly NamespaceName[] = ['/layout', '/bus', '/lobby'];

/**
 * The namespaces whose 4.x sessions recover across nodes (`--redis-mode streams`). Not /lobby: its
 * peers are told LEFT only once a disconnected peer's session is over, and that moment is known
 * only to the node that kept the session; with sessions kept in Redis, whose keys expire without a
 * word, a peer that never came back would never be announced LEFT.
 */
export const CLUSTER_RECOVERING_NAMESPACES: readonly NamespaceName[] = ['/layout', '/bus'];

/**
 * Registers the four namespaces, each with its own child logger (`{ nsp }`).
 * @returns `/bus`, which `POST /bus-message` publishes to.
 */
export function registerNamespaces(io: Server, deps: Omit<NamespaceDeps, 'logger'> & { logger: Logger }): RoomNamespace {
  for (const [nsp, register] of Object.entries(REGISTER)) register(io, { ...deps, logger: deps.logger.child({ nsp }) });
  return io.of('/bus') as RoomNamespace;
}
