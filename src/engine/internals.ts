/**
 * The private shapes of engine.io and Socket.IO that this service reaches into, declared once.
 * Nothing outside `src/engine/` casts to them: the rest of the code calls the functions this wing
 * exports. `patchEngine()` refuses to start on versions these shapes were not checked against.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';
import type { Namespace, Server, Socket } from 'socket.io';

/** A `ws` WebSocket as engine.io's WebSocket transport holds it. */
export interface WsInternals {
  _socket?: NetSocket;
  bufferedAmount?: number;
  terminate?(): void;
  listeners(event: string): ((...args: unknown[]) => void)[];
  removeListener(event: string, listener: (...args: unknown[]) => void): unknown;
}

/** What engine.io 6's v3 parser offers (not exported by the package). */
export interface V3Parser {
  encodePayload(packets: unknown[], supportsBinary: unknown, callback: (data: string | Buffer) => void): void;
  encodePayloadAsBinary(packets: unknown[], callback: (data: string | Buffer) => void): void;
}

/** An engine.io transport: polling or websocket. */
export interface TransportInternals {
  name: string;
  protocol: 3 | 4;
  writable: boolean;
  supportsBinary: boolean;
  parser: V3Parser;
  /** The WebSocket, on the websocket transport. */
  socket?: WsInternals;
  _events?: Record<PropertyKey, unknown>;
}

/** engine.io's long-polling transport: the response of the poll it holds, and the write that answers it. */
export interface PollingInternals extends TransportInternals {
  res?: ServerResponse | null;
  write(data: string | Buffer, options?: unknown): void;
}

/** A request as engine.io hands it over: it adds the parsed `_query`. */
export type EngineRequest = IncomingMessage & { _query?: Record<string, string> };

/** An engine.io socket (one Engine.IO session). */
export interface EngineSocketInternals {
  id: string;
  server: EngineServerInternals;
  readyState: string;
  protocol: 3 | 4;
  writeBuffer: { data?: unknown }[];
  transport: TransportInternals;
  request: EngineRequest | HandshakeRequest;
  /** What to undo when the transport is replaced or closed. */
  cleanupFn?: (() => void)[];
  flush(): void;
  close(discard?: boolean): void;
  _events?: Record<PropertyKey, unknown>;
  /** Ours: the last event-loop turn in which this socket wrote straight through (coalesce.ts). */
  coalesceTurn?: number;
}

/** What Socket.IO reads from an Engine.IO connection's request when a namespace connects. */
export interface HandshakeRequest {
  headers: IncomingMessage['headers'];
  url: string | undefined;
  method: string | undefined;
  /** The parsed query string of the Engine.IO handshake (`lobbyId`, `token`, …). */
  _query: Record<string, string>;
  connection: { encrypted: boolean };
}

/** engine.io's server: its client table and transport factory are protected in its typings. */
export interface EngineServerInternals {
  clients: Record<string, EngineSocket>;
  /** Ours: sessions written to since the last sweep, and those still holding data then (buffers.ts). */
  writtenSessions?: Set<EngineSocketInternals>;
  createTransport(name: string, req: IncomingMessage): unknown;
}

/** Socket.IO's server: the namespace table, and the parser module its clients decode with. */
export interface ServerInternals {
  _nsps: Map<string, Namespace>;
  _parser: { Decoder: new () => PacketDecoder };
}

/** socket.io-parser's Decoder: emits `decoded` for each whole packet added, at once. */
export interface PacketDecoder {
  add(part: unknown): void;
  on(event: 'decoded', listener: (packet: DecodedPacket) => void): unknown;
  destroy(): void;
}

/** A Socket.IO namespace socket: the hook every outgoing packet passes. */
export interface SocketInternals {
  notifyOutgoingListeners(packet: unknown): void;
  onevent(packet: DecodedPacket): void;
  _events?: Record<PropertyKey, unknown>;
}

/** A Socket.IO client (one per Engine.IO connection): its namespace sockets and packet entry. */
export interface ClientInternals {
  server: Server;
  conn: EngineSocketInternals;
  nsps: Map<string, Socket>;
  /** Every decoded incoming packet; bound to the client when it is made. */
  ondecoded(packet: DecodedPacket): void;
  /** Every packet written to this client but broadcasts (those are pre-encoded: an array). */
  _packet(packet: DecodedPacket | unknown[], opts?: unknown): void;
  _parseNamespace(packet: DecodedPacket): { namespace: string };
  /** Closes the Engine.IO connection, and with it every namespace socket. */
  close(): void;
  /** Ours: packets kept while a namespace's CONNECT is handled (pending-connect.ts). */
  heldPackets?: HeldPackets;
}

/** The packets one client sent for namespaces whose CONNECT is still being handled. */
export interface HeldPackets {
  /** Per namespace whose CONNECT awaits its answer: the packets that came for it since, in order. */
  queues: Map<string, { packets: DecodedPacket[]; bytes: number }>;
  /** Totals over the queues, held to a bound. */
  count: number;
  bytes: number;
}

/** What socket.io's (unexported) `dist/client.js` module holds. */
export interface ClientModule {
  Client: { prototype: ClientInternals };
}

/** A decoded Socket.IO packet. */
export interface DecodedPacket {
  type: number;
  nsp: string;
  data?: unknown;
  id?: number;
}

/** A server-side TLS socket: the TCP socket it runs over. */
export interface TlsSocketInternals {
  _parent?: NetSocket | null;
}

export const engineServerOf = (engine: EngineServer) => engine as unknown as EngineServerInternals;
export const engineSocketOf = (socket: EngineSocket) => socket as unknown as EngineSocketInternals;
export const serverOf = (io: Server) => io as unknown as ServerInternals;
export const socketOf = (socket: Socket) => socket as unknown as SocketInternals;
export const pollingOf = (transport: TransportInternals) => transport as PollingInternals;
export const tlsOf = (socket: TLSSocket) => socket as unknown as TlsSocketInternals;

/** Options Socket.IO's adapter passes along with a pre-encoded broadcast. */
export interface AdapterPacketOptions {
  preEncoded: boolean;
  volatile?: boolean;
  compress?: boolean;
  wsPreEncodedFrame?: unknown;
}

/** socket.io-adapter's in-memory adapter: its encoder wrapper and recipient walk are private. */
export interface AdapterInternals {
  _encode(packet: unknown, packetOpts: AdapterPacketOptions): unknown[];
  apply(opts: unknown, callback: (socket: Socket) => void): void;
}

/** A namespace socket as a broadcast reaches it, and its private id for recovery. */
export interface RecoverySocketInternals extends SocketInternals {
  pid?: string;
  client: { writeToEngine(parts: unknown[], opts: AdapterPacketOptions): void };
}

export const adapterOf = (adapter: object) => adapter as unknown as AdapterInternals;

/** socket.io-adapter's cluster adapter: where it appends a broadcast's offset, and its sessions. */
export interface ClusterAdapterInternals extends AdapterInternals {
  addOffsetIfNecessary(packet: { type: number; id?: number; data: unknown[] }, opts: { flags?: { volatile?: boolean } }, offset: string): void;
  persistSession(session: { pid?: string }): void;
}

export const clusterAdapterOf = (adapter: object) => adapter as unknown as ClusterAdapterInternals;
