import type { Namespace, Server, Socket } from 'socket.io';
import type { NoEvents, SocketData, TriggerClientToServerEvents, TriggerServerToClientEvents } from '../events';
import { ackOf, idReader, joinWithinLimit, roomKey, verb, type HandlerDeps } from '../protocol';

export type TriggerNamespace = Namespace<TriggerClientToServerEvents, TriggerServerToClientEvents, NoEvents, SocketData>;
type TriggerSocket = Socket<TriggerClientToServerEvents, TriggerServerToClientEvents, NoEvents, SocketData>;

/** Each `BROADCAST_X` a client sends is forwarded to the room as `X`. */
const FORWARDS = {
  BROADCAST_EVENTS: 'EVENTS',
  BROADCAST_UPDATES: 'UPDATES',
  BROADCAST_STATUS: 'STATUS',
} as const;

/** `/trigger`: the timeline editor's channel to the timeline service (Python, socketIO-client). */
export function registerTrigger(io: Server, deps: HandlerDeps): TriggerNamespace {
  const nsp: TriggerNamespace = io.of('/trigger');
  const readId = idReader(deps.limits);
  const log = (socket: TriggerSocket, event: string, room: string) =>
    deps.logger.debug({ nsp: nsp.name, socket: socket.id, room }, event);

  nsp.on('connection', (socket: TriggerSocket) => {
    socket.on('JOIN', verb(socket, deps, 'JOIN', async (id: unknown, ack: unknown) => {
      const room = readId(id, 'room');
      await joinWithinLimit(socket, room, deps.limits);
      log(socket, 'JOIN', room);
      ackOf(ack)();
    }));

    socket.on('LEAVE', verb(socket, deps, 'LEAVE', async (id: unknown, ack: unknown) => {
      const room = readId(id, 'room');
      await socket.leave(roomKey(room));
      log(socket, 'LEAVE', room);
      ackOf(ack)();
    }));

    for (const [incoming, outgoing] of Object.entries(FORWARDS) as [keyof typeof FORWARDS, (typeof FORWARDS)[keyof typeof FORWARDS]][]) {
      socket.on(incoming, verb(socket, deps, incoming, (id: unknown, data: unknown) => {
        const room = readId(id, 'room');
        socket.to(roomKey(room)).emit(outgoing, data);
        log(socket, incoming, room);
      }));
    }
  });
  return nsp;
}
