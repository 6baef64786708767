import type { Namespace, Socket } from 'socket.io';
import { socketOf } from './internals';

type Notify = (this: Socket, packet: unknown) => void;

/**
 * Calls `count` for every packet a socket of `nsp` is sent, direct or broadcast. Socket.IO calls
 * a socket's `notifyOutgoingListeners` for each of them; one shared function put in its place
 * counts, then runs the original, so nothing is allocated per socket or per packet.
 */
export function onOutgoingPacket(nsp: Namespace, count: () => void): void {
  let original: Notify | undefined;
  function countingNotify(this: Socket, packet: unknown) {
    count();
    original!.call(this, packet);
  }
  nsp.on('connection', (socket: Socket) => {
    const internals = socketOf(socket);
    original ??= internals.notifyOutgoingListeners as Notify;
    internals.notifyOutgoingListeners = countingNotify;
  });
}
