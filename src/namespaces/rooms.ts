import type { Namespace, Server, Socket } from 'socket.io';
import { pendingMembers } from '../engine';
import { refuse } from '../errors';
import type { NoEvents, RoomClientToServerEvents, RoomServerToClientEvents, SocketData } from '../events';
import { field, idReader, parseRequest } from '../protocol';
import { joinWithinLimit, roomKey } from '../rooms';
import { membersOf } from './members';
import { ackOf, publicId, verbKit, type NamespaceDeps } from './verb';

/** A `/layout` or `/bus` namespace: both speak the same verbs, each with its own rooms and names. */
export type RoomNamespace = Namespace<RoomClientToServerEvents, RoomServerToClientEvents, NoEvents, SocketData>;
type RoomSocket = Socket<RoomClientToServerEvents, RoomServerToClientEvents, NoEvents, SocketData>;

/** The sender of a NOTIFY from a socket that never said its name. */
export const UNKNOWN_SENDER = 'unknown';

/** The sender of bus events published over HTTP. */
export const HTTP_SENDER = 'POST';

/**
 * Installs JOIN, LEAVE, NOTIFY and CLIENTS on `/layout` or `/bus`. Everything goes through the
 * adapter (`to()`, `fetchSockets()`), so the same code serves one node or a Redis-linked cluster.
 */
export function registerRooms(io: Server, name: '/layout' | '/bus', deps: NamespaceDeps): RoomNamespace {
  const nsp: RoomNamespace = io.of(name);
  const { logger, limits } = deps;
  const readId = idReader(limits);
  const on = verbKit<RoomSocket, keyof RoomClientToServerEvents>(nsp, deps);
  const log = (socket: RoomSocket, event: string, room: string) => logger.debug({ socket: publicId(socket), room }, event);

  const join = async (socket: RoomSocket, payload: unknown, ack: unknown) => {
    const request = parseRequest(payload);
    const room = readId(field(request, 'room'), 'room');
    const name = readId(field(request, 'name'), 'name');
    socket.data.name = name;
    await joinWithinLimit(socket, room, limits);
    log(socket, 'JOIN', room);
    ackOf(ack)();
  };

  const leave = async (socket: RoomSocket, payload: unknown, ack: unknown) => {
    const room = readId(field(parseRequest(payload), 'room'), 'room');
    await socket.leave(roomKey(room));
    log(socket, 'LEAVE', room);
    ackOf(ack)();
  };

  const notify = (socket: RoomSocket, payload: unknown) => {
    const request = parseRequest(payload);
    const room = readId(field(request, 'room'), 'room');
    if (!Object.prototype.hasOwnProperty.call(request, 'message')) throw refuse('missing_message');
    socket.to(roomKey(room)).emit('EVENT', { sender: socket.data.name ?? UNKNOWN_SENDER, room, message: request.message });
    log(socket, 'NOTIFY', room);
  };

  const clients = async (socket: RoomSocket, payload: unknown) => {
    const room = readId(field(parseRequest(payload), 'room'), 'room');
    const members = await membersOf(nsp, roomKey(room), logger);
    // The console observes; it is not one of the room's clients. Those that may come back still
    // are (see --recovery-window).
    const data = [...members.map((member) => member.data), ...pendingMembers(nsp, roomKey(room))];
    const names = data.flatMap((member) => (typeof member.name !== 'string' || member.observer ? [] : [member.name]));
    socket.emit('CLIENTS', { room, clients: names });
    log(socket, 'CLIENTS', room);
  };

  nsp.on('connection', (socket: RoomSocket) => {
    on(socket, 'JOIN', join);
    on(socket, 'LEAVE', leave);
    on(socket, 'NOTIFY', notify);
    on(socket, 'CLIENTS', clients);
  });
  return nsp;
}

/**
 * Delivers an HTTP-published message to every `/bus` member of `room`, on every node.
 * @returns how many sockets of this node were in the room (other nodes are not asked: that would
 * cost a round trip through Redis on every publish).
 */
export function publishToBus(bus: RoomNamespace, room: string, message: unknown): number {
  const key = roomKey(room);
  const local = bus.adapter.rooms.get(key)?.size ?? 0;
  bus.to(key).emit('EVENT', { sender: HTTP_SENDER, room, message });
  return local;
}
