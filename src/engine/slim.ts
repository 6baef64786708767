import type { Socket as EngineSocket } from 'engine.io';
import type { Namespace, Server, Socket } from 'socket.io';
import { engineSocketOf, serverOf, socketOf, type ClientInternals, type TransportInternals } from './internals';
import { compactConnection } from './listeners';
import { SmallMap } from './small-map';

/** ws's frame reader: the chunks it has not consumed yet, and the last frame's masking key. */
interface ReceiverInternals {
  _buffers: Buffer[];
  _mask: Buffer | undefined;
}

type OnData = (this: TransportInternals, data: unknown) => void;

/** engine.io's `Transport.prototype.onData` before {@link releaseLastFrame} wrapped it. */
let engineOnData: OnData | undefined;

/**
 * After each message a WebSocket reads, ws's receiver keeps the last frame's masking key: a view
 * of the chunk it came in (the key's buffer, the chunk's ArrayBuffer and its memory: about 250
 * bytes), and an array grown for the chunks it read. Neither is read again before the next
 * frame's header replaces them, so both go as soon as the message is handled.
 */
function releaseLastFrame(this: TransportInternals, data: unknown): void {
  engineOnData!.call(this, data);
  const receiver = (this.socket as { _receiver?: ReceiverInternals } | undefined)?._receiver;
  if (!receiver) return;
  receiver._mask = undefined;
  if (receiver._buffers.length === 0) receiver._buffers = [];
}

/** Wraps `onData` of the transports' shared base class, once per process (one engine.io, as in coalesce.ts). */
function wrapOnData(transport: TransportInternals): void {
  if (transport.name !== 'websocket' || engineOnData) return;
  const base = Object.getPrototypeOf(Object.getPrototypeOf(transport)) as { onData: OnData };
  engineOnData = base.onData;
  base.onData = releaseLastFrame;
}

/** socket.io-parser's decoder options: the same for every client of a server. */
interface DecoderOptions {
  reviver?: unknown;
  maxAttachments?: number;
}

/** One frozen copy of each distinct decoder options object seen, shared by the decoders that have it. */
const sharedOptions = new Map<string, Readonly<DecoderOptions>>();

function shared(options: DecoderOptions): Readonly<DecoderOptions> {
  // A reviver is a function, which cannot be told apart by a key: those decoders keep their own.
  if (options.reviver !== undefined || Object.keys(options).some((key) => key !== 'reviver' && key !== 'maxAttachments')) return options;
  const key = String(options.maxAttachments);
  let copy = sharedOptions.get(key);
  if (!copy) sharedOptions.set(key, (copy = Object.freeze({ ...options })));
  return copy;
}

/** What a socket whose client sent no `auth` gets as `handshake.auth`, in place of an empty object of its own. */
const NO_AUTH: Readonly<Record<string, unknown>> = Object.freeze({});

/** The per-connection tables of Socket.IO and engine.io that outlive the connect, made small. */
function slimNamespaceSocket(socket: Socket): void {
  if (Object.keys(socket.handshake.auth).length === 0) socket.handshake.auth = NO_AUTH;
  const client = (socket as unknown as { client: ClientInternals & { sockets: Map<string, Socket>; decoder: { opts?: DecoderOptions; _callbacks?: Record<string, unknown[]> } } }).client;
  if (client.decoder.opts) client.decoder.opts = shared(client.decoder.opts);
  if (!(client.sockets instanceof SmallMap)) client.sockets = new SmallMap(client.sockets);
  if (!(client.nsps instanceof SmallMap)) client.nsps = new SmallMap(client.nsps);
  const internals = socketOf(socket) as { acks?: Map<number, unknown> };
  if (internals.acks && !(internals.acks instanceof SmallMap)) internals.acks = new SmallMap(internals.acks);
  const callbacks = client.decoder._callbacks;
  if (callbacks) for (const key of Object.keys(callbacks)) callbacks[key] = callbacks[key].slice();
  // Listeners added to the connection since it opened (by handlers registered after patchEngine) too.
  compactConnection(client.conn as unknown as EngineSocket);
}

/**
 * Makes each connection's long-lived state smaller, once its namespaces are connected:
 * - Socket.IO's per-client and per-socket maps become {@link SmallMap}s;
 * - the packet decoder's listener lists, grown by `push`, are trimmed, and its options (the same
 *   for every client) are shared, as is an empty `handshake.auth` (read by middlewares only, before this);
 * - the connection's listener tables are compacted again, with what was added since it opened.
 * Call after the namespaces' own `connection` handlers are registered.
 */
export function slimConnections(io: Server): void {
  const watch = (nsp: Namespace) => nsp.on('connection', slimNamespaceSocket);
  for (const nsp of serverOf(io)._nsps.values()) watch(nsp);
  io.on('new_namespace', watch);
}

/** Lets ws's receivers go of the last frame they read, once handled (see {@link releaseLastFrame}). */
export function releaseLastFrames(io: Server): void {
  io.engine.on('connection', (socket: EngineSocket) => {
    if (engineOnData) return;
    if (socket.transport.name === 'websocket') wrapOnData(engineSocketOf(socket).transport);
    else socket.once('upgrade', () => wrapOnData(engineSocketOf(socket).transport));
  });
}
