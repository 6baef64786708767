/**
 * The rooms clients name, as the adapter keeps them. Socket.IO also puts each socket in a room
 * named after its own id; keeping clients' rooms under a prefix means no client can reach a
 * socket, or list it, by naming its id as a room.
 */
import type { Socket } from 'socket.io';
import { refuse } from './errors';

const CLIENT_ROOM = 'room:';

/** The adapter room of a room, lobby or trigger id that a client names. */
export function roomKey(id: string): string {
  return CLIENT_ROOM + id;
}

/** The client-named id of an adapter room, or undefined for a socket's own id-room. */
export function clientRoom(key: string): string | undefined {
  return isClientRoom(key) ? key.slice(CLIENT_ROOM.length) : undefined;
}

/** Whether an adapter room is one a client named (not an id-room or a peer room). */
export function isClientRoom(key: string): boolean {
  return key.startsWith(CLIENT_ROOM);
}

/** Joins `room` unless that would put the socket in more rooms than the limit allows. */
export async function joinWithinLimit(socket: Socket<any, any, any, any>, room: string, limits: { maxRoomsPerSocket: number }): Promise<void> {
  const key = roomKey(room);
  // socket.rooms holds the socket's own id-room besides the ones it joined.
  if (!socket.rooms.has(key) && socket.rooms.size - 1 >= limits.maxRoomsPerSocket) throw refuse('too_many_rooms', limits.maxRoomsPerSocket);
  await socket.join(key);
}

const PEER_ROOM = 'peer:';

/**
 * The adapter room that holds the one socket with public id `id`: how a lobby peer is found, on
 * any node, without its Socket.IO id (which for 1.x/2.x clients carries the session id).
 */
export function peerKey(id: string): string {
  return PEER_ROOM + id;
}
