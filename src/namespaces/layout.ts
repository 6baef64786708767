import type { Server } from 'socket.io';
import type { HandlerDeps } from '../protocol';
import { registerRoomNamespace, type RoomNamespace } from './rooms';

/** `/layout`: the layout service notifies the DMApp components of a context's devices. */
export function registerLayout(io: Server, deps: HandlerDeps): RoomNamespace {
  const nsp: RoomNamespace = io.of('/layout');
  registerRoomNamespace(nsp, deps);
  return nsp;
}
