import type { Namespace, Socket } from 'socket.io';
import { socketOf, type DecodedPacket } from './internals';

type OnEvent = (this: Socket, packet: DecodedPacket) => void;

/**
 * Refuses events whose acknowledgement id is not a safe integer. socket.io-parser reads the id's
 * digits with `Number()`, so 25 digits become `1e+24`, and the ack would be sent back as a frame
 * no client can parse (`431e+24[…]`). Such an event is not dispatched: `refused(socket, event)`
 * is called instead. A shared function takes the place of `onevent` on each socket; nothing is
 * allocated per socket or per event.
 */
export function refuseUnsafeAckIds(nsp: Namespace, refused: (socket: Socket, event: string) => void): void {
  let original: OnEvent | undefined;
  function checkedOnEvent(this: Socket, packet: DecodedPacket) {
    if (packet.id !== undefined && packet.id !== null && !Number.isSafeInteger(packet.id)) {
      const [event] = Array.isArray(packet.data) ? packet.data : [];
      refused(this, typeof event === 'string' ? event : '');
      return;
    }
    original!.call(this, packet);
  }
  nsp.on('connection', (socket: Socket) => {
    const internals = socketOf(socket);
    original ??= internals.onevent as OnEvent;
    internals.onevent = checkedOnEvent;
  });
}
