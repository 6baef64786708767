import type { Namespace, Server, Socket } from 'socket.io';
import type { NoEvents, SocketData, TriggerClientToServerEvents, TriggerServerToClientEvents } from '../events';
import { idReader } from '../protocol';
import { joinWithinLimit, roomKey } from '../rooms';
import { ackOf, publicId, unlessObserver, verbKit, type Handler, type NamespaceDeps } from './verb';

export type TriggerNamespace = Namespace<TriggerClientToServerEvents, TriggerServerToClientEvents, NoEvents, SocketData>;
type TriggerSocket = Socket<TriggerClientToServerEvents, TriggerServerToClientEvents, NoEvents, SocketData>;

/** Each `BROADCAST_X` a client sends is forwarded to the room as `X`. */
const FORWARDS = {
  BROADCAST_EVENTS: 'EVENTS',
  BROADCAST_UPDATES: 'UPDATES',
  BROADCAST_STATUS: 'STATUS',
} as const;

/** `/trigger`: the timeline editor's channel to the timeline service (Python, socketIO-client). */
export function registerTrigger(io: Server, deps: NamespaceDeps): TriggerNamespace {
  const nsp: TriggerNamespace = io.of('/trigger');
  const { logger, limits } = deps;
  const readId = idReader(limits);
  const on = verbKit<TriggerSocket, keyof TriggerClientToServerEvents>(nsp, deps);
  const log = (socket: TriggerSocket, event: string, room: string) => logger.debug({ socket: publicId(socket), room }, event);

  const join = async (socket: TriggerSocket, id: unknown, ack: unknown) => {
    const room = readId(id, 'room');
    await joinWithinLimit(socket, room, limits);
    log(socket, 'JOIN', room);
    ackOf(ack)();
  };

  const leave = async (socket: TriggerSocket, id: unknown, ack: unknown) => {
    const room = readId(id, 'room');
    await socket.leave(roomKey(room));
    log(socket, 'LEAVE', room);
    ackOf(ack)();
  };

  const forwards = Object.entries(FORWARDS).map(([incoming, outgoing]): [keyof typeof FORWARDS, Handler<TriggerSocket>] => [
    incoming as keyof typeof FORWARDS,
    // The console page joins rooms here to watch what goes by; it does not send.
    unlessObserver((socket, id, data) => {
      const room = readId(id, 'room');
      socket.to(roomKey(room)).emit(outgoing, data);
      log(socket, incoming, room);
    }),
  ]);

  nsp.on('connection', (socket: TriggerSocket) => {
    on(socket, 'JOIN', join);
    on(socket, 'LEAVE', leave);
    for (const [incoming, forward] of forwards) on(socket, incoming, forward);
  });
  return nsp;
}
