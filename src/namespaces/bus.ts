import type { Server } from 'socket.io';
import { roomKey, type HandlerDeps } from '../protocol';
import { registerRoomNamespace, type RoomNamespace } from './rooms';

/** The sender of bus events published over HTTP. */
export const HTTP_SENDER = 'POST';

/** `/bus`: a general message bus for debug tools and services, also fed by `POST /bus-message`. */
export function registerBus(io: Server, deps: HandlerDeps): RoomNamespace {
  const nsp: RoomNamespace = io.of('/bus');
  registerRoomNamespace(nsp, deps);
  return nsp;
}

/** Delivers an HTTP-published message to every `/bus` member of `room`, on every node. */
export function publishToBus(bus: RoomNamespace, room: string, message: unknown): void {
  bus.to(roomKey(room)).emit('EVENT', { sender: HTTP_SENDER, room, message });
}
