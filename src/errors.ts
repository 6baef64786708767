/**
 * Every refusal the service makes, in one catalogue: the code handlers raise, the text the client
 * reads, the metric label it is counted under (`websocket_refused_total{reason}`), how the client
 * is told, and when it happens (the README's table of refusals is generated from these rows and
 * checked against them by a test).
 */

/** How a refusal reaches the client. */
export type Reply =
  /** `["ERROR", {event, message}]` to the offending socket alone; never an ack. */
  | 'ERROR'
  /** The request's own acknowledgement, called with the text (the lobby's JOIN and LEAVE). */
  | 'ack'
  /** The namespace CONNECT is refused: `connect_error` (4.x) or `error` (1.x/2.x). */
  | 'connect_error'
  /** The client is disconnected by the server (`io server disconnect` or a closed transport). */
  | 'disconnect';

interface RefusalRow<A extends unknown[]> {
  /** The `reason` label of `websocket_refused_total`. */
  metric: string;
  reply: Reply;
  /** The text the client reads. */
  text: (...args: A) => string;
  /** When it happens, for the README. */
  when: string;
}

const row = <A extends unknown[]>(r: RefusalRow<A>) => r;

/** How deeply a payload may nest (see `requireShallow` in `protocol.ts`). */
export const MAX_DEPTH = 64;

/** The catalogue. Keys are the codes that handlers raise with {@link refuse}. */
export const REFUSALS = {
  not_json: row({ metric: 'invalid_payload', reply: 'ERROR', text: (what: string) => `${what} is not valid JSON`, when: 'a `/layout` or `/bus` payload is a string that is not JSON' }),
  not_object: row({
    metric: 'invalid_payload',
    reply: 'ERROR',
    text: (what: string, got: string) => `${what} must be a JSON object, got ${got}`,
    when: 'a payload that must be an object (or its JSON string) is a number, an array, `null`, …',
  }),
  too_deep: row({ metric: 'invalid_payload', reply: 'ERROR', text: (what: string) => `${what} is nested deeper than ${MAX_DEPTH} levels`, when: `a payload nests deeper than ${MAX_DEPTH} levels` }),
  bad_ack_id: row({ metric: 'invalid_payload', reply: 'ERROR', text: () => 'acknowledgement id out of range', when: 'an event asks for an ack with an id that is not a safe integer (more than 15 digits)' }),
  missing_message: row({ metric: 'invalid_payload', reply: 'ERROR', text: () => 'message is missing', when: 'a NOTIFY has no `message` field' }),
  invalid_id: row({
    metric: 'invalid_id',
    reply: 'ERROR',
    text: (what: string, got: string) => `${what} must be a non-empty string or a finite number, got ${got}`,
    when: 'a room, name, lobby or peer id is missing, empty, or neither a string nor a finite number',
  }),
  id_too_long: row({ metric: 'id_too_long', reply: 'ERROR', text: (what: string, max: number) => `${what} is longer than ${max} characters`, when: 'an id is longer than `--max-id-length`' }),
  too_many_rooms: row({ metric: 'too_many_rooms', reply: 'ERROR', text: (max: number) => `already in ${max} rooms: LEAVE one first`, when: 'a JOIN would put a socket in more than `--max-rooms-per-socket` rooms' }),
  not_in_lobby: row({ metric: 'not_in_lobby', reply: 'ERROR', text: () => 'not in a lobby', when: '`/lobby` BROADCAST or RTCSIGNAL from a socket in no lobby' }),
  unknown_peer: row({ metric: 'unknown_peer', reply: 'ERROR', text: (to: string, lobby: string) => `peer ${to} is not in lobby ${lobby}`, when: 'RTCSIGNAL to a peer id that is not in the sender\'s lobby' }),
  already_in_lobby: row({ metric: 'wrong_lobby', reply: 'ack', text: (lobby: string) => `already in lobby ${lobby}: LEAVE it first`, when: '`/lobby` JOIN from a socket already in a lobby' }),
  not_that_lobby: row({ metric: 'wrong_lobby', reply: 'ack', text: (lobby: string) => `not in lobby ${lobby}`, when: '`/lobby` LEAVE of a lobby the socket is not in' }),
  observer_read_only: row({
    metric: 'observer_read_only',
    reply: 'ERROR',
    text: () => 'the console watches this namespace and cannot send on it',
    when: 'the console page (an observer) sends on `/lobby` or `/trigger`, where it only watches',
  }),
  lobby_id_required: row({
    metric: 'lobby_id_required',
    reply: 'connect_error',
    // A 4.x client that already has a connection multiplexes /lobby over it and drops the query.
    text: () => 'lobbyId required: pass lobbyId in auth (4.x) or the query (1.x/2.x)',
    when: 'a `/lobby` CONNECT without a usable `lobbyId`',
  }),
  unauthorized: row({ metric: 'unauthorized', reply: 'connect_error', text: () => 'unauthorized: a valid token is required', when: 'with `--client-token`, a CONNECT without the token' }),
  rate_limited: row({
    metric: 'rate_limited',
    reply: 'ERROR',
    text: (rate: number) => `over ${rate} events/s: events are being dropped`,
    when: 'a socket sends faster than `--event-rate` beyond `--event-burst` (`event` is `RATE_LIMIT`; once per streak)',
  }),
  rate_expelled: row({
    metric: 'rate_limited',
    reply: 'disconnect',
    text: () => 'disconnected: too many events, for too long',
    when: 'a socket keeps flooding: a last `ERROR` (`event` `RATE_LIMIT`), then `io server disconnect`',
  }),
  slow_consumer: row({ metric: 'slow_consumer', reply: 'disconnect', text: () => 'stopped reading', when: 'more than `--max-queued-bytes` wait for a client: its transport is closed' }),
  internal_error: row({ metric: 'internal_error', reply: 'ERROR', text: () => 'internal error', when: 'a handler failed unexpectedly (logged at error with its stack)' }),
} as const;

export type RefusalCode = keyof typeof REFUSALS;
type ArgsOf<C extends RefusalCode> = Parameters<(typeof REFUSALS)[C]['text']>;

/** The `websocket_refused_total` labels. */
export type RefusalMetric = (typeof REFUSALS)[RefusalCode]['metric'];

/** A request the service refuses: the client is told {@link Refusal.message}, nothing else happens. */
export class Refusal extends Error {
  constructor(
    readonly code: RefusalCode,
    message: string,
  ) {
    super(message);
  }

  /** The label it is counted under. */
  get metric(): RefusalMetric {
    return REFUSALS[this.code].metric;
  }
}

/** Builds the refusal `code` with its text, to throw. */
export function refuse<C extends RefusalCode>(code: C, ...args: ArgsOf<C>): Refusal {
  const text = REFUSALS[code].text as (...a: ArgsOf<C>) => string;
  return new Refusal(code, text(...args));
}

/** The README's table of refusals, one row per code: the README is checked against it. */
export function refusalsTable(): string {
  const rows = (Object.keys(REFUSALS) as RefusalCode[]).map((code) => {
    const { metric, reply, when } = REFUSALS[code];
    return `| ${when} | ${reply} | \`${metric}\` |`;
  });
  return ['| when | the client gets | `reason` label |', '|---|---|---|', ...rows].join('\n');
}
