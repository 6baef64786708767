/**
 * The wire contract, namespace by namespace, as Socket.IO event maps. Payloads the clients send
 * are typed as documented; the server still validates every one, since anything can arrive.
 */

/** A room or lobby id: a string, or a number taken as its string. */
export type Id = string | number;

/** Sent to a socket alone when it sent something the server refused. */
export interface ErrorReply {
  event: string;
  message: string;
}

/** `/layout` and `/bus` requests, either as an object or as its JSON string (the documented form). */
export interface JoinRequest {
  room: Id;
  name: Id;
}
export interface LeaveRequest {
  room: Id;
}
export interface NotifyRequest {
  room: Id;
  message: unknown;
}
export interface ClientsRequest {
  room: Id;
}
export interface RoomEvent {
  sender: string;
  room: string;
  message: unknown;
}
export interface ClientsReply {
  room: string;
  clients: string[];
}

type Json<T> = T | string;

export interface RoomClientToServerEvents {
  JOIN: (request: Json<JoinRequest>, ack?: () => void) => void;
  LEAVE: (request: Json<LeaveRequest>, ack?: () => void) => void;
  NOTIFY: (request: Json<NotifyRequest>) => void;
  CLIENTS: (request: Json<ClientsRequest>) => void;
}
export interface RoomServerToClientEvents {
  EVENT: (event: RoomEvent) => void;
  CLIENTS: (reply: ClientsReply) => void;
  ERROR: (error: ErrorReply) => void;
}

/** `/lobby` */
export interface LobbyMessage {
  from: string;
  message: unknown;
}
export interface RtcSignal {
  to: string;
  [key: string]: unknown;
}
export interface LobbyClientToServerEvents {
  /** The ack gets an error message when the request was refused, nothing when it succeeded. */
  JOIN: (lobbyId: Id, ack?: (error?: string) => void) => void;
  LEAVE: (lobbyId: Id, ack?: (error?: string) => void) => void;
  BROADCAST: (request: { message: unknown }) => void;
  RTCSIGNAL: (signal: RtcSignal) => void;
}
export interface LobbyServerToClientEvents {
  JOINED: (socketId: string) => void;
  PEERS: (socketIds: string[]) => void;
  LEFT: (socketId: string) => void;
  MESSAGE: (message: LobbyMessage) => void;
  RTCSIGNAL: (signal: RtcSignal & { from: string }) => void;
  ERROR: (error: ErrorReply) => void;
}

/** `/trigger` */
export interface TriggerClientToServerEvents {
  JOIN: (room: Id, ack?: () => void) => void;
  LEAVE: (room: Id, ack?: () => void) => void;
  BROADCAST_EVENTS: (room: Id, data: unknown) => void;
  BROADCAST_UPDATES: (room: Id, data: unknown) => void;
  BROADCAST_STATUS: (room: Id, data: unknown) => void;
}
export interface TriggerServerToClientEvents {
  EVENTS: (data: unknown) => void;
  UPDATES: (data: unknown) => void;
  STATUS: (data: unknown) => void;
  ERROR: (error: ErrorReply) => void;
}

/** What the server keeps on each socket; `fetchSockets()` carries it across nodes. */
export interface SocketData {
  /** The name from the last JOIN on `/layout` or `/bus`. */
  name?: string;
  /** The lobby this `/lobby` socket is in. */
  lobby?: string;
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
export type NamespaceName = keyof NamespaceEvents;
/** What a client of namespace `N` may emit. */
export type ClientToServerEvents<N extends NamespaceName> = NamespaceEvents[N]['clientToServer'];
/** What a client of namespace `N` receives. */
export type ServerToClientEvents<N extends NamespaceName> = NamespaceEvents[N]['serverToClient'];
/**
 * A typed socket.io-client socket for namespace `N`:
 * `io('https://host/layout') as ClientSocket<'/layout'>`.
 */
export type ClientSocket<N extends NamespaceName> = import('socket.io-client').Socket<ServerToClientEvents<N>, ClientToServerEvents<N>>;
