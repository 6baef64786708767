/**
 * The wire contract, namespace by namespace, as Socket.IO event maps. Payloads the clients send
 * are typed as documented; the server still validates every one, since anything can arrive.
 * Every refusal is listed in `errors.ts` and answered as it says there (usually `ERROR`).
 *
 * This module has no runtime dependencies, and its types need only socket.io-client's: it is
 * published on its own as `websocket-service/events`, for a TypeScript DMApp to import.
 */

/** The namespaces of the service, in the order they are shown everywhere. */
export const NAMESPACES = ['/layout', '/bus', '/lobby', '/trigger'] as const;

/** A room or lobby id: a string, or a number taken as its string. */
export type Id = string | number;

/** Sent to a socket alone when it sent something the server refused. */
export interface ErrorReply {
  /** The verb that was refused (`JOIN`, `NOTIFY`, …), or `RATE_LIMIT`. */
  event: string;
  /** Why, for a person to read. */
  message: string;
}

/** `/layout` and `/bus` JOIN. */
export interface JoinRequest {
  room: Id;
  /** This socket's name in the namespace, listed by CLIENTS and sent as `sender` of its NOTIFYs. */
  name: Id;
}
/** `/layout` and `/bus` LEAVE. */
export interface LeaveRequest {
  room: Id;
}
/** `/layout` and `/bus` NOTIFY. */
export interface NotifyRequest {
  room: Id;
  /** Any JSON value; it reaches the room unchanged. */
  message: unknown;
}
/** `/layout` and `/bus` CLIENTS. */
export interface ClientsRequest {
  room: Id;
}
/** What a room member receives for a NOTIFY (or a `POST /bus-message`, sender `POST`). */
export interface RoomEvent {
  /** The sender's name from its last JOIN, `unknown` when it never joined, `POST` over HTTP. */
  sender: string;
  room: string;
  message: unknown;
}
/** The answer to CLIENTS. */
export interface ClientsReply {
  room: string;
  /** The names of the sockets in the room, on every node. */
  clients: string[];
}

type Json<T> = T | string;

/** What a client may send on `/layout` and `/bus`; each request is an object or its JSON string. */
export interface RoomClientToServerEvents {
  /**
   * Joins `room` under `name` (a later JOIN replaces the name). The ack is called with no
   * arguments once joined; a refused JOIN is never acked: `ERROR` instead.
   */
  JOIN: (request: Json<JoinRequest>, ack?: () => void) => void;
  /** Leaves `room`; the ack is called with no arguments. Refused: `ERROR`, no ack. */
  LEAVE: (request: Json<LeaveRequest>, ack?: () => void) => void;
  /**
   * Sends `EVENT` to every other socket in `room`, on every node. The sender need not be in the
   * room. Refused (no `message`, bad room): `ERROR`.
   */
  NOTIFY: (request: Json<NotifyRequest>) => void;
  /** Asks for the names in `room`; answered with `CLIENTS` to this socket alone. Refused: `ERROR`. */
  CLIENTS: (request: Json<ClientsRequest>) => void;
}
/** What a client receives on `/layout` and `/bus`. */
export interface RoomServerToClientEvents {
  /** Another socket's NOTIFY to a room this socket is in, or a `POST /bus-message` on `/bus`. */
  EVENT: (event: RoomEvent) => void;
  /** The answer to this socket's CLIENTS. */
  CLIENTS: (reply: ClientsReply) => void;
  /** A request of this socket was refused. */
  ERROR: (error: ErrorReply) => void;
}

/** A lobby BROADCAST as the members receive it. */
export interface LobbyMessage {
  /** The sender's public peer id. */
  from: string;
  message: unknown;
}
/** A WebRTC signal: any fields, addressed to a peer of the same lobby. */
export interface RtcSignal {
  /** The public peer id of the recipient, as `JOINED`/`PEERS` gave it. */
  to: string;
  [key: string]: unknown;
}
/** What a client may send on `/lobby` (connected with `lobbyId` in the query or `auth`). */
export interface LobbyClientToServerEvents {
  /**
   * Joins lobby `lobbyId` when in none. The ack gets an error text when refused (already in a
   * lobby), nothing once joined; everyone in the lobby then gets `JOINED`.
   */
  JOIN: (lobbyId: Id, ack?: (error?: string) => void) => void;
  /** Leaves the lobby; the others get `LEFT`. The ack gets an error text when not in it. */
  LEAVE: (lobbyId: Id, ack?: (error?: string) => void) => void;
  /** Sends `MESSAGE` to every member of the sender's lobby, the sender included. Not in a lobby: `ERROR`. */
  BROADCAST: (request: { message: unknown }) => void;
  /** Sends the signal, plus `from`, to peer `to` alone, if it is in the sender's lobby; else `ERROR`. */
  RTCSIGNAL: (signal: RtcSignal) => void;
}
/** What a client receives on `/lobby`. */
export interface LobbyServerToClientEvents {
  /** A socket (this one included, on arrival) entered the lobby: its public peer id. */
  JOINED: (peerId: string) => void;
  /** Sent once on arrival: the public peer ids of the other members. */
  PEERS: (peerIds: string[]) => void;
  /** A member left or disconnected. */
  LEFT: (peerId: string) => void;
  /** A member's BROADCAST. */
  MESSAGE: (message: LobbyMessage) => void;
  /** A member's RTCSIGNAL to this socket, with the sender's public peer id in `from`. */
  RTCSIGNAL: (signal: RtcSignal & { from: string }) => void;
  /** A request of this socket was refused. */
  ERROR: (error: ErrorReply) => void;
}

/** What a client may send on `/trigger` (the timeline service and editor). */
export interface TriggerClientToServerEvents {
  /** Joins room `room`; the optional ack is called with no arguments. Refused: `ERROR`. */
  JOIN: (room: Id, ack?: () => void) => void;
  /** Leaves room `room`; the optional ack is called with no arguments. */
  LEAVE: (room: Id, ack?: () => void) => void;
  /** Sends `EVENTS` with `data` to every other socket in `room`. */
  BROADCAST_EVENTS: (room: Id, data: unknown) => void;
  /** Sends `UPDATES` with `data` to every other socket in `room`. */
  BROADCAST_UPDATES: (room: Id, data: unknown) => void;
  /** Sends `STATUS` with `data` to every other socket in `room`. */
  BROADCAST_STATUS: (room: Id, data: unknown) => void;
}
/** What a client receives on `/trigger`. */
export interface TriggerServerToClientEvents {
  /** Another socket's BROADCAST_EVENTS data. */
  EVENTS: (data: unknown) => void;
  /** Another socket's BROADCAST_UPDATES data. */
  UPDATES: (data: unknown) => void;
  /** Another socket's BROADCAST_STATUS data. */
  STATUS: (data: unknown) => void;
  /** A request of this socket was refused. */
  ERROR: (error: ErrorReply) => void;
}

/** What the server keeps on each socket; `fetchSockets()` carries it across nodes. */
export interface SocketData {
  /** The public id: what other clients, the console, logs and metrics see of this socket. */
  id: string;
  /** The name from the last JOIN on `/layout` or `/bus`. */
  name?: string;
  /** The lobby this `/lobby` socket is in. */
  lobby?: string;
  /** The console's own socket: it observes rooms, and is left out of CLIENTS and the counts. */
  observer?: boolean;
}

/** Inter-server events: none. */
export type NoEvents = Record<never, never>;

/** The event maps of each namespace, from a client's side. */
export interface NamespaceEvents {
  '/layout': { clientToServer: RoomClientToServerEvents; serverToClient: RoomServerToClientEvents };
  '/bus': { clientToServer: RoomClientToServerEvents; serverToClient: RoomServerToClientEvents };
  '/lobby': { clientToServer: LobbyClientToServerEvents; serverToClient: LobbyServerToClientEvents };
  '/trigger': { clientToServer: TriggerClientToServerEvents; serverToClient: TriggerServerToClientEvents };
}
export type NamespaceName = (typeof NAMESPACES)[number];
/** What a client of namespace `N` may emit. */
export type ClientToServerEvents<N extends NamespaceName> = NamespaceEvents[N]['clientToServer'];
/** What a client of namespace `N` receives. */
export type ServerToClientEvents<N extends NamespaceName> = NamespaceEvents[N]['serverToClient'];
/**
 * A typed socket.io-client socket for namespace `N`: `const socket: ClientSocket<'/layout'> =
 * io('https://host/layout')`. Not in an ES module under `module: nodenext`, where socket.io-client's
 * ESM typings (the caller's `io`) and CommonJS ones (this package's) are different classes; the form
 * Socket.IO documents works everywhere:
 * `const socket: Socket<ServerToClientEvents<'/layout'>, ClientToServerEvents<'/layout'>> = io(url)`.
 */
export type ClientSocket<N extends NamespaceName> = import('socket.io-client').Socket<ServerToClientEvents<N>, ClientToServerEvents<N>>;
