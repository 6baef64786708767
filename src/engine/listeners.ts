import type { Socket as EngineSocket } from 'engine.io';
import type { Namespace, Server, Socket } from 'socket.io';
import { engineSocketOf, serverOf, socketOf } from './internals';

/** An EventEmitter's listener table: `{ __proto__: null }` in Node's `events`. */
interface Emitter {
  _events?: Record<PropertyKey, unknown>;
}

/** A listener `once()` registered: Node's wrapper, with the listener it stands for. */
type OnceWrapper = ((...args: unknown[]) => unknown) & { listener?: (...args: unknown[]) => unknown };

/**
 * The listener that a table entry calls. For an event its emitter fires at most once (`close`),
 * `once()`'s wrapper (a state object and a bound function with a property of its own: about
 * 150 bytes) does nothing the listener itself would not: the listener stands in its place.
 * `removeListener(event, listener)` finds it the same way.
 */
function unwrapped(listener: unknown, firesOnce: boolean): unknown {
  const inner = (listener as OnceWrapper | undefined)?.listener;
  return firesOnce && typeof inner === 'function' ? inner : listener;
}

/**
 * Rebuilds an EventEmitter's listener table in V8's compact form. Node creates every table as
 * `{ __proto__: null }`, which V8 keeps as a hash table (dictionary mode, about 300 bytes with
 * half a dozen events); the same keys added to a plain object whose prototype is then set to
 * null keep fast properties and a hidden class shared by every connection (about 100 bytes).
 * The table is the same for `events` (same keys, same listeners, still no prototype), so every
 * later `on`/`off`/`emit` behaves as before.
 *
 * Two more things go on the way. A list of three or more listeners was grown by `push`, which
 * leaves room for 16 more (about 140 bytes): it is copied to its own length. And for the events
 * in `firesOnce`, `once()` wrappers give way to their listeners (see {@link unwrapped}).
 */
export function compactListenerTable(emitter: Emitter, firesOnce: readonly string[] = []): void {
  const events = emitter._events;
  if (typeof events !== 'object' || events === null) return;
  // Streams (a TCP socket, ws's receiver) start with a table of fixed shape that is already
  // compact: only its entries are rewritten.
  const keep = Object.getPrototypeOf(events) !== null;
  const table: Record<PropertyKey, unknown> = keep ? events : {};
  for (const key of Reflect.ownKeys(events)) {
    const value = events[key];
    const once = typeof key === 'string' && firesOnce.includes(key);
    table[key] = Array.isArray(value) ? value.map((listener) => unwrapped(listener, once)) : unwrapped(value, once);
  }
  if (keep) return;
  Object.setPrototypeOf(table, null);
  emitter._events = table;
}

/** What engine.io, `ws` and `net` emit at most once per connection. */
const CLOSE = ['close'];
/**
 * A transport's `error` too: the Engine.IO socket's listener closes the session and, in doing so,
 * removes itself before any second error, which is all `once()` was there for.
 */
const TRANSPORT_ONCE = ['close', 'error'];

/**
 * The emitters of one Engine.IO connection whose tables are complete once it is open, and
 * engine.io's list of what to undo when the transport goes (grown by `push`, like a listener list).
 */
export function compactConnection(socket: EngineSocket): void {
  const internals = engineSocketOf(socket);
  if (internals.cleanupFn) internals.cleanupFn = internals.cleanupFn.slice();
  compactListenerTable(internals, CLOSE);
  compactListenerTable(internals.transport, TRANSPORT_ONCE);
  const ws = internals.transport.socket as (Emitter & { _socket?: Emitter }) | undefined;
  if (ws) compactListenerTable(ws, CLOSE);
  if (ws?._socket) compactListenerTable(ws._socket, CLOSE);
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
