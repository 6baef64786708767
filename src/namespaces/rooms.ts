import type { Namespace, Socket } from 'socket.io';
import type { NoEvents, RoomClientToServerEvents, RoomServerToClientEvents, SocketData } from '../events';
import { membersOf } from './members';
import { ackOf, BadInput, field, idReader, joinWithinLimit, parseRequest, roomKey, verb, type HandlerDeps } from '../protocol';

/** A `/layout` or `/bus` namespace: both speak the same verbs, each with its own rooms and names. */
export type RoomNamespace = Namespace<RoomClientToServerEvents, RoomServerToClientEvents, NoEvents, SocketData>;
type RoomSocket = Socket<RoomClientToServerEvents, RoomServerToClientEvents, NoEvents, SocketData>;

/** The sender of a NOTIFY from a socket that never said its name. */
export const UNKNOWN_SENDER = 'unknown';

/**
 * Installs JOIN, LEAVE, NOTIFY and CLIENTS on `nsp`. Everything goes through the adapter
 * (`to()`, `fetchSockets()`), so the same code serves one node or a Redis-linked cluster.
 */
export function registerRoomNamespace(nsp: RoomNamespace, deps: HandlerDeps): void {
  const { logger, limits } = deps;
  const readId = idReader(limits);
  nsp.on('connection', (socket: RoomSocket) => {
    const log = (event: string, room: string) => logger.debug({ nsp: nsp.name, socket: socket.id, room }, event);

    socket.on('JOIN', verb(socket, deps, 'JOIN', async (payload: unknown, ack: unknown) => {
      const request = parseRequest(payload);
      const room = readId(field(request, 'room'), 'room');
      const name = readId(field(request, 'name'), 'name');
      socket.data.name = name;
      await joinWithinLimit(socket, room, limits);
      log('JOIN', room);
      ackOf(ack)();
    }));

    socket.on('LEAVE', verb(socket, deps, 'LEAVE', async (payload: unknown, ack: unknown) => {
      const room = readId(field(parseRequest(payload), 'room'), 'room');
      await socket.leave(roomKey(room));
      log('LEAVE', room);
      ackOf(ack)();
    }));

    socket.on('NOTIFY', verb(socket, deps, 'NOTIFY', (payload: unknown) => {
      const request = parseRequest(payload);
      const room = readId(field(request, 'room'), 'room');
      if (!Object.prototype.hasOwnProperty.call(request, 'message')) throw new BadInput('message is missing');
      socket.to(roomKey(room)).emit('EVENT', { sender: socket.data.name ?? UNKNOWN_SENDER, room, message: request.message });
      log('NOTIFY', room);
    }));

    socket.on('CLIENTS', verb(socket, deps, 'CLIENTS', async (payload: unknown) => {
      const room = readId(field(parseRequest(payload), 'room'), 'room');
      const members = await membersOf(nsp, roomKey(room), logger);
      const clients = members.flatMap((member) => (member.data.name === undefined ? [] : [member.data.name]));
      socket.emit('CLIENTS', { room, clients });
      log('CLIENTS', room);
    }));
  });
}
