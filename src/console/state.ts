import type { Server } from 'socket.io';
import type { SocketData } from '../events';
import type { Logger } from '../logger';
import { NAMESPACES } from '../events';
import { clientRoom } from '../rooms';

/** One socket in a room: its public id, and the name from its last JOIN on `/layout` or `/bus`. */
export interface MemberState {
  id: string;
  name: string | null;
}

export interface RoomState {
  name: string;
  members: MemberState[];
}

export interface NamespaceState {
  name: string;
  /** Sockets connected to the namespace, on every node. */
  connections: number;
  rooms: RoomState[];
  /** True when the other nodes could not be asked: the counts are this node's alone. */
  partial: boolean;
}

/** What `GET /console/api/state` answers. */
export interface ConsoleState {
  /** ISO time at which the state was read. */
  time: string;
  namespaces: NamespaceState[];
}

interface SocketView {
  rooms: Set<string>;
  data: Partial<SocketData>;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Groups sockets by the rooms clients named, leaving out each socket's own id-room. */
export function roomsOf(sockets: SocketView[]): RoomState[] {
  const rooms = new Map<string, MemberState[]>();
  for (const socket of sockets) {
    for (const key of socket.rooms) {
      const room = clientRoom(key);
      if (room === undefined) continue;
      const members = rooms.get(room) ?? [];
      members.push({ id: String(socket.data?.id), name: typeof socket.data?.name === 'string' ? socket.data.name : null });
      rooms.set(room, members);
    }
  }
  return [...rooms]
    .map(([name, members]) => ({
      name,
      members: members.sort((a, b) => byText(a.name ?? '\uffff', b.name ?? '\uffff') || byText(a.id, b.id)),
    }))
    .sort((a, b) => byText(a.name, b.name));
}

/**
 * Reads every console namespace with `fetchSockets()`, which asks all the nodes of a cluster.
 * When they cannot be asked, this node's own sockets are shown and the namespace is marked partial.
 */
export async function readState(io: Server, logger: Logger): Promise<ConsoleState> {
  const namespaces = await Promise.all(
    NAMESPACES.map(async (name): Promise<NamespaceState> => {
      const nsp = io.of(name);
      let sockets: SocketView[];
      let partial = false;
      try {
        sockets = await nsp.fetchSockets();
      } catch (error) {
        logger.warn({ nsp: name, err: error }, 'console: other nodes unreachable, showing this node only');
        sockets = await nsp.local.fetchSockets();
        partial = true;
      }
      return { name, connections: sockets.length, rooms: roomsOf(sockets), partial };
    }),
  );
  return { time: new Date().toISOString(), namespaces };
}

/**
 * Shares one read among the consoles polling at once: a read in flight is joined, and a result
 * younger than `maxAgeMs` is reused, so N open pages cost one `fetchSockets()` round per period.
 */
export function sharedReader<T>(read: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let inFlight: Promise<T> | undefined;
  let last: { at: number; value: T } | undefined;
  return () => {
    if (last && Date.now() - last.at < maxAgeMs) return Promise.resolve(last.value);
    inFlight ??= read()
      .then((value) => {
        last = { at: Date.now(), value };
        return value;
      })
      .finally(() => {
        inFlight = undefined;
      });
    return inFlight;
  };
}
