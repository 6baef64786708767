/**
 * The handler kit every namespace uses: `on(socket, 'JOIN', join)` names each event once and
 * registers one listener per namespace and event, shared by all its sockets (Socket.IO calls a
 * listener with the socket as `this`). Around each handler it:
 * - refuses payloads nested too deep before anything reads them;
 * - turns a {@link Refusal} into `ERROR` to that socket alone (warned once per socket and verb,
 *   debug after), and any other failure into a logged error and the same reply;
 * - keeps a socket's requests in the order they were sent: while an asynchronous verb of a socket
 *   is in flight, the socket's later verbs wait for it, so acks, replies and `ERROR`s come back
 *   in request order;
 * - counts the verb.
 */
import type { Namespace, Socket } from 'socket.io';
import { refuse, Refusal } from '../errors';
import type { ErrorReply } from '../events';
import type { Limits } from '../limits';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import { requireShallow } from '../protocol';

/** What every namespace's handlers need; `logger` is already the namespace's child. */
export interface NamespaceDeps {
  logger: Logger;
  limits: Limits;
  metrics: Metrics;
}

// The kit serves namespaces with different event maps; only `ERROR` is common to all.
type AnySocket = Socket<any, any, any, any>;

/** A verb's handler: the socket it came from, then what the client sent. */
export type Handler<S extends AnySocket> = (socket: S, ...args: unknown[]) => void | Promise<void>;

/**
 * `handler`, refused with `observer_read_only` for the console's sockets, which watch a namespace
 * without taking part.
 */
export function unlessObserver<S extends AnySocket>(handler: Handler<S>): Handler<S> {
  return (socket, ...args) => {
    if (socket.data.observer) throw refuse('observer_read_only');
    return handler(socket, ...args);
  };
}

/** The acknowledgement callback if the client asked for one. */
export function ackOf(candidate: unknown): (...args: unknown[]) => void {
  return typeof candidate === 'function' ? (candidate as (...args: unknown[]) => void) : noop;
}

const noop = () => {};

/** The public id of a socket, as logs, metrics and other clients see it (never a session id). */
export function publicId(socket: AnySocket): string {
  return socket.data.id;
}

/** Requests of a socket still in flight: later ones queue behind the last. */
const inFlight = new WeakMap<AnySocket, Promise<void>>();

/**
 * The kit of one namespace: returns `on(socket, event, handler)`, `E` being its client events.
 */
export function verbKit<S extends AnySocket, E extends string>(nsp: Namespace<any, any, any, any>, deps: NamespaceDeps) {
  const { logger, metrics } = deps;
  const listeners = new Map<string, { handler: Handler<S>; listener: (this: S, ...args: unknown[]) => void }>();

  const listenerFor = (event: E, handler: Handler<S>) => {
    const counted = metrics.received(nsp.name, event);
    const warned = new WeakSet<AnySocket>();
    const fail = (socket: S, error: unknown) => {
      const refusal = error instanceof Refusal ? error : undefined;
      metrics.refused(refusal ? refusal.metric : 'internal_error');
      const message = refusal ? refusal.message : 'internal error';
      const context = { socket: publicId(socket), event, reason: refusal?.code ?? 'internal_error', refusal: message };
      if (!refusal) logger.error({ ...context, err: error }, `${event} failed`);
      else if (warned.has(socket)) logger.debug(context, `refused ${event} again`);
      else logger.warn(context, `refused ${event}`);
      warned.add(socket);
      const reply: ErrorReply = { event, message };
      socket.emit('ERROR', reply);
    };
    const run = (socket: S, args: unknown[]): Promise<void> | undefined => {
      try {
        for (const arg of args) requireShallow(arg, 'payload');
        const result = handler(socket, ...args);
        return result ? result.catch((error: unknown) => fail(socket, error)) : undefined;
      } catch (error) {
        fail(socket, error);
        return undefined;
      }
    };
    return function listener(this: S, ...args: unknown[]) {
      counted();
      const before = inFlight.get(this);
      const done = before ? before.then(() => run(this, args)) : run(this, args);
      if (!done) return;
      inFlight.set(this, done);
      void done.then(() => {
        if (inFlight.get(this) === done) inFlight.delete(this);
      });
    };
  };

  return function on(socket: S, event: E, handler: Handler<S>): void {
    let registered = listeners.get(event);
    if (!registered) {
      registered = { handler, listener: listenerFor(event, handler) };
      listeners.set(event, registered);
    }
    // One listener serves every socket, so a handler that differs per socket would be silently
    // ignored: a handler decides from the socket it is given, never by being chosen per socket.
    if (registered.handler !== handler) throw new Error(`${nsp.name} ${event}: one handler per event, shared by all sockets`);
    // Socket.IO's typings want a listener of the socket's own event map; this one fits them all.
    (socket as AnySocket).on(event as string, registered.listener);
  };
}
