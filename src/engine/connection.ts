import type { Socket as NetSocket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { tlsOf } from './internals';

/**
 * Closes a connection with a TCP reset, which drops what waits in the kernel's send queue with it:
 * closed the ordinary way, a connection whose peer does not read keeps that queue while the kernel
 * goes on trying to deliver it. A TLS socket is reset through the TCP socket under it.
 */
export function resetConnection(socket: NetSocket): void {
  const tcp = socket instanceof TLSSocket ? tlsOf(socket)._parent : socket;
  if (tcp && !tcp.destroyed && !(tcp instanceof TLSSocket)) tcp.resetAndDestroy();
  socket.destroy();
}
