import type { Socket } from 'socket.io';
import type { Logger } from './logger';
import type { ErrorReply } from './events';
import type { Limits } from './limits';
import type { Metrics, RefusalReason } from './metrics';

/** A request the server refuses: the socket gets `ERROR` with this message, nothing else happens. */
export class BadInput extends Error {
  constructor(
    message: string,
    readonly reason: RefusalReason = 'invalid_payload',
  ) {
    super(message);
  }
}

/**
 * Reads a `/layout` or `/bus` request: documented as a JSON string, also accepted as the object
 * itself. Anything but a plain object is refused.
 */
export function parseRequest(raw: unknown): Record<string, unknown> {
  let value = raw;
  if (typeof raw === 'string') {
    try {
      value = JSON.parse(raw);
    } catch {
      throw new BadInput('payload is not valid JSON');
    }
    // An object payload was already walked by verb(); only what the string held is new.
    requireShallow(value, 'payload');
  }
  return requireObject(value, 'payload');
}

/**
 * How deeply a payload may nest. Relaying a value walks it recursively (socket.io-parser looks
 * for binary in it), so a few thousand levels of `[[[…]]]`, a few KB of JSON, would overflow the
 * stack; no real message comes near this.
 */
export const MAX_DEPTH = 64;

/** Refuses a value nested deeper than {@link MAX_DEPTH}, walking it without recursion. */
export function requireShallow(value: unknown, what: string): void {
  if (typeof value !== 'object' || value === null) return;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_DEPTH) throw new BadInput(`${what} is nested deeper than ${MAX_DEPTH} levels`);
    if (ArrayBuffer.isView(node)) continue;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
}

/** A plain object (not an array, null or a primitive). */
export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new BadInput(`${what} must be a JSON object, got ${describe(value)}`);
  }
  return value as Record<string, unknown>;
}

/** An own property only, so `toString` or `__proto__` never come from the prototype. */
export function field(request: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(request, key) ? request[key] : undefined;
}

/** A room, lobby or name: a non-empty string, or a finite number taken as its string. */
export function requireId(value: unknown, what: string, maxLength = Infinity): string {
  let id: string | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) id = String(value);
  else if (typeof value === 'string' && value !== '') id = value;
  if (id === undefined) throw new BadInput(`${what} must be a non-empty string or a number, got ${describe(value)}`, 'invalid_id');
  if (id.length > maxLength) throw new BadInput(`${what} is longer than ${maxLength} characters`, 'id_too_long');
  return id;
}

/**
 * The adapter room of a room, lobby or trigger id that a client names. Socket.IO also puts each
 * socket in a room named after its own id; keeping clients' rooms under a prefix means no client
 * can reach a socket, or list it, by naming its id as a room.
 */
export function roomKey(id: string): string {
  return CLIENT_ROOM + id;
}

/** The client-named id of an adapter room, or undefined for a socket's own id-room. */
export function clientRoom(key: string): string | undefined {
  return key.startsWith(CLIENT_ROOM) ? key.slice(CLIENT_ROOM.length) : undefined;
}

const CLIENT_ROOM = 'room:';

/** {@link requireId} bound to a node's length limit. */
export function idReader(limits: Pick<Limits, 'maxIdLength'>): (value: unknown, what: string) => string {
  return (value, what) => requireId(value, what, limits.maxIdLength);
}

/** Joins `room` unless that would put the socket in more rooms than the limit allows. */
export async function joinWithinLimit(socket: AnySocket, room: string, limits: Pick<Limits, 'maxRoomsPerSocket'>): Promise<void> {
  const key = roomKey(room);
  // socket.rooms holds the socket's own id-room besides the ones it joined.
  if (!socket.rooms.has(key) && socket.rooms.size - 1 >= limits.maxRoomsPerSocket) {
    throw new BadInput(`already in ${limits.maxRoomsPerSocket} rooms: LEAVE one first`, 'too_many_rooms');
  }
  await socket.join(key);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  return `a ${typeof value}`;
}

/** The acknowledgement callback if the client asked for one. */
export function ackOf(candidate: unknown): (...args: unknown[]) => void {
  return typeof candidate === 'function' ? (candidate as (...args: unknown[]) => void) : () => {};
}

/** What every namespace handler needs. */
export interface HandlerDeps {
  logger: Logger;
  limits: Limits;
  metrics: Metrics;
}

// Handlers are shared by namespaces with different event maps; only `ERROR` is common to all.
type AnySocket = Socket<any, any, any, any>;

/**
 * Wraps a verb's handler: a {@link BadInput} it throws (or rejects with) becomes a warning and an
 * `ERROR` to that socket alone; any other failure is logged and answered the same way, so no
 * message can take the process or the connection down.
 */
export function verb<A extends unknown[]>(
  socket: AnySocket,
  deps: HandlerDeps,
  event: string,
  handle: (...args: A) => void | Promise<void>,
): (...args: A) => void {
  const counted = deps.metrics.received(socket.nsp.name, event);
  // A socket that keeps sending the same bad verb is warned about once; the rest go to debug.
  let warned = false;
  const refuse = (error: unknown) => {
    deps.metrics.refused(error instanceof BadInput ? error.reason : 'internal_error');
    const message = error instanceof BadInput ? error.message : 'internal error';
    const context = { nsp: socket.nsp.name, socket: socket.id, event };
    if (!(error instanceof BadInput)) deps.logger.error({ ...context, err: error }, `${event} failed`);
    else if (warned) deps.logger.debug(context, `refused ${event} again: ${message}`);
    else deps.logger.warn(context, `refused ${event}: ${message}`);
    warned = true;
    const reply: ErrorReply = { event, message };
    socket.emit('ERROR', reply);
  };
  return (...args: A) => {
    counted();
    try {
      for (const arg of args) requireShallow(arg, 'payload');
      const result = handle(...args);
      if (result) result.catch(refuse);
    } catch (error) {
      refuse(error);
    }
  };
}
