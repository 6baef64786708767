import type { Socket as EngineSocket } from 'engine.io';
import type { Namespace, Server, Socket } from 'socket.io';
import { engineSocketOf, serverOf, socketOf } from './internals';

/** An EventEmitter's listener table: `{ __proto__: null }` in Node's `events`. */
interface Emitter {
  _events?: Record<PropertyKey, unknown>;
}

/**
 * Rebuilds an EventEmitter's listener table in V8's compact form. Node creates every table as
 * `{ __proto__: null }`, which V8 keeps as a hash table (dictionary mode, about 300 bytes with
 * half a dozen events); the same keys added to a plain object whose prototype is then set to
 * null keep fast properties and a hidden class shared by every connection (about 100 bytes).
 * The table is the same for `events` (same keys, same listeners, still no prototype), so every
 * later `on`/`off`/`emit` behaves as before.
 */
export function compactListenerTable(emitter: Emitter): void {
  const events = emitter._events;
  if (typeof events !== 'object' || events === null || Object.getPrototypeOf(events) !== null) return;
  const compact: Record<PropertyKey, unknown> = {};
  for (const key of Reflect.ownKeys(events)) compact[key] = events[key];
  Object.setPrototypeOf(compact, null);
  emitter._events = compact;
}

/** The emitters of one Engine.IO connection whose tables are complete once it is open. */
function compactConnection(socket: EngineSocket): void {
  const internals = engineSocketOf(socket);
  compactListenerTable(internals);
  compactListenerTable(internals.transport);
  if (internals.transport.socket) compactListenerTable(internals.transport.socket as Emitter);
}

/** A connection that opened on long-polling: its new WebSocket transport, once the upgrade is over. */
function onUpgrade(this: EngineSocket): void {
  // After every `upgrade` listener (some are `once`, and leave the table as they go).
  setImmediate(compactConnection, this);
}

function onConnection(socket: EngineSocket): void {
  if (socket.transport.name !== 'websocket') socket.once('upgrade', onUpgrade);
  compactConnection(socket);
}

/** A namespace socket, after every `connection` handler before this one added its listeners. */
function compactNamespaceSocket(socket: Socket): void {
  compactListenerTable(socketOf(socket));
}

/**
 * Compacts the listener tables of each connection's long-lived emitters: the Engine.IO socket,
 * its transport and WebSocket when the connection opens (and again after an upgrade from
 * long-polling), and each namespace socket after the namespace's own `connection` handlers (so
 * call this after registering them). About 1 KB less per connection.
 */
export function compactListeners(io: Server): void {
  io.engine.on('connection', onConnection);
  const watch = (nsp: Namespace) => nsp.on('connection', compactNamespaceSocket);
  for (const nsp of serverOf(io)._nsps.values()) watch(nsp);
  io.on('new_namespace', watch);
}
