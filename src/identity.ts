import { randomBytes } from 'node:crypto';
import type { Namespace } from 'socket.io';

/**
 * A fresh public id: 96 random bits, URL-safe. For Engine.IO v3 clients (1.x/2.x, Python) Socket.IO
 * makes `socket.id` out of the Engine.IO session id, the session's only credential, so that id is
 * never shown: clients, the console, logs and metrics all see this one instead.
 */
export function newPublicId(): string {
  return randomBytes(12).toString('base64url');
}

/**
 * Gives every socket of `nsp` its public id in `socket.data.id`, before any other middleware. A
 * recovered socket keeps the one it had: its peers still address it by that id.
 */
export function assignPublicIds(nsp: Namespace): void {
  nsp.use((socket, next) => {
    if (!socket.recovered) socket.data.id = newPublicId();
    next();
  });
}
