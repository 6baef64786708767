/**
 * Payload validation: what a client sends is read here, and anything the protocol does not allow
 * becomes a {@link Refusal} from the catalogue in `errors.ts`.
 */
import { MAX_DEPTH, refuse } from './errors';

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
      throw refuse('not_json', 'payload');
    }
    // An object payload was already walked when it arrived; only what the string held is new.
    requireShallow(value, 'payload');
  }
  return requireObject(value, 'payload');
}

/**
 * Refuses a value nested deeper than {@link MAX_DEPTH}, walking it without recursion. Relaying a
 * value walks it recursively (socket.io-parser looks for binary in it), so a few thousand levels
 * of `[[[…]]]`, a few KB of JSON, would overflow the stack; no real message comes near this.
 */
export function requireShallow(value: unknown, what: string): void {
  if (typeof value !== 'object' || value === null) return;
  const stack: [object, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [node, depth] = stack.pop()!;
    if (depth > MAX_DEPTH) throw refuse('too_deep', what);
    if (ArrayBuffer.isView(node)) continue;
    for (const child of Object.values(node)) {
      if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
    }
  }
}

/** A plain object (not an array, null or a primitive). */
export function requireObject(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw refuse('not_object', what, describe(value));
  return value as Record<string, unknown>;
}

/** An own property only, so `toString` or `__proto__` never come from the prototype. */
export function field(request: Record<string, unknown>, key: string): unknown {
  return Object.prototype.hasOwnProperty.call(request, key) ? request[key] : undefined;
}

/** A room, lobby or name: a non-empty string, or a finite number taken as its string. */
export function requireId(value: unknown, what: string, maxLength = Infinity): string {
  let id: string | undefined;
  // -0 would become "0": a room the client did not name.
  if (typeof value === 'number' && Number.isFinite(value) && !Object.is(value, -0)) id = String(value);
  else if (typeof value === 'string' && value !== '') id = value;
  if (id === undefined) throw refuse('invalid_id', what, describe(value));
  if (id.length > maxLength) throw refuse('id_too_long', what, maxLength);
  return id;
}

/** {@link requireId} bound to a node's length limit. */
export function idReader(limits: { maxIdLength: number }): (value: unknown, what: string) => string {
  return (value, what) => requireId(value, what, limits.maxIdLength);
}

function describe(value: unknown): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return value === '' ? 'an empty string' : 'a string';
  // JSON numbers beyond the double range (1e309) arrive as Infinity.
  if (typeof value === 'number') return Object.is(value, -0) ? '-0' : Number.isFinite(value) ? 'a number' : 'a number out of range';
  return `a ${typeof value}`;
}
