import type { Server } from 'socket.io';
import { localSockets } from '../engine';
import { NAMESPACES, type SocketData } from '../events';
import type { Logger } from '../logger';
import { clientRoom, isClientRoom } from '../rooms';

/** One socket in a room: its public id, and the name from its last JOIN on `/layout` or `/bus`. */
export interface MemberState {
  id: string;
  name: string | null;
}

export interface RoomState {
  name: string;
  /** Members in the room, on every node. */
  size: number;
  /** The first of them, by name: at most {@link STATE_LIMITS}`.members`. */
  members: MemberState[];
}

export interface NamespaceState {
  name: string;
  /** Sockets connected to the namespace, on every node, the consoles' own left out. */
  connections: number;
  /** Console sockets connected to the namespace, on every node. */
  consoles: number;
  /** Rooms with members, on every node. */
  roomCount: number;
  /** The first of them, by name, within the limits. */
  rooms: RoomState[];
  /** True when the other nodes could not be asked: the counts are this node's alone. */
  partial: boolean;
}

/** What `GET /console/api/state` answers. */
export interface ConsoleState {
  /** ISO time at which the state was read. */
  time: string;
  namespaces: NamespaceState[];
  /** True when rooms or members were left out to keep the answer within the limits. */
  truncated: boolean;
}

/**
 * How much one answer may hold, whatever the node's size: a page cannot show more, and a node with
 * thousands of rooms of long names must not build megabytes of JSON every second.
 */
export const STATE_LIMITS = {
  /** Rooms listed per namespace. */
  rooms: 200,
  /** Members listed per room. */
  members: 50,
  /** Characters of room names, member names and ids, all namespaces together (about the bytes). */
  chars: 256 * 1024,
};

interface SocketView {
  rooms: Set<string>;
  data: Partial<SocketData>;
}

const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** What {@link roomsOf} spends of the character budget. */
interface Budget {
  chars: number;
  truncated: boolean;
}

/** Room memberships grouped between two yields to the event loop. */
const MEMBERSHIPS_PER_SLICE = 5000;

/**
 * Sockets by adapter room key, client-named rooms only: keys are not copied, only looked up. A big
 * node has tens of thousands of memberships: the work yields to the event loop every
 * {@link MEMBERSHIPS_PER_SLICE} of them, so that clients and health checks are served meanwhile.
 */
async function groupByRoom(sockets: SocketView[]): Promise<Map<string, SocketView[]>> {
  const rooms = new Map<string, SocketView[]>();
  let slice = 0;
  for (const socket of sockets) {
    slice += socket.rooms.size;
    if (slice > MEMBERSHIPS_PER_SLICE) {
      slice = 0;
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const key of socket.rooms) {
      if (!isClientRoom(key)) continue;
      const members = rooms.get(key);
      if (members) members.push(socket);
      else rooms.set(key, [socket]);
    }
  }
  return rooms;
}

/**
 * The rooms clients named, leaving out each socket's own id-room, sorted by name, within
 * {@link STATE_LIMITS}: what is left out is counted in `size` and `truncated`. Only the rooms
 * listed are looked at further, however many there are.
 */
export async function roomsOf(sockets: SocketView[], budget: Budget = { chars: STATE_LIMITS.chars, truncated: false }): Promise<RoomState[]> {
  const rooms = await groupByRoom(sockets);
  return listRooms(rooms, budget);
}

function listRooms(rooms: Map<string, SocketView[]>, budget: Budget): RoomState[] {
  // Keys share their prefix, so they sort as the names do.
  const keys = [...rooms.keys()].sort(byText);
  if (keys.length > STATE_LIMITS.rooms) budget.truncated = true;
  const listed: RoomState[] = [];
  for (const key of keys.slice(0, STATE_LIMITS.rooms)) {
    const name = clientRoom(key)!;
    if (budget.chars < name.length) {
      budget.truncated = true;
      break;
    }
    budget.chars -= name.length;
    const everyone = rooms.get(key)!.map((socket) => ({ id: String(socket.data?.id), name: typeof socket.data?.name === 'string' ? socket.data.name : null }));
    everyone.sort((a, b) => byText(a.name ?? '\uffff', b.name ?? '\uffff') || byText(a.id, b.id));
    const members: MemberState[] = [];
    for (const member of everyone.slice(0, STATE_LIMITS.members)) {
      const cost = member.id.length + (member.name?.length ?? 0);
      if (budget.chars < cost) break;
      budget.chars -= cost;
      members.push(member);
    }
    if (members.length < everyone.length) budget.truncated = true;
    listed.push({ name, size: everyone.length, members });
  }
  return listed;
}

/**
 * Reads every namespace with `fetchSockets()`, which asks all the nodes of a cluster. When they
 * cannot be asked, this node's own sockets are shown and the namespace is marked partial.
 */
export async function readState(io: Server, logger: Logger): Promise<ConsoleState> {
  const views = await Promise.all(
    NAMESPACES.map(async (name) => {
      const nsp = io.of(name);
      try {
        return { name, sockets: (await nsp.fetchSockets()) as SocketView[], partial: false };
      } catch (error) {
        logger.warn({ nsp: name, err: error }, 'console: other nodes unreachable, showing this node only');
        return { name, sockets: (await localSockets(nsp)) as SocketView[], partial: true };
      }
    }),
  );
  const budget: Budget = { chars: STATE_LIMITS.chars, truncated: false };
  const namespaces: NamespaceState[] = [];
  for (const { name, sockets: everyone, partial } of views) {
    const sockets = everyone.filter((socket) => !socket.data?.observer);
    const rooms = await groupByRoom(sockets);
    namespaces.push({ name, connections: sockets.length, consoles: everyone.length - sockets.length, roomCount: rooms.size, rooms: listRooms(rooms, budget), partial });
  }
  return { time: new Date().toISOString(), namespaces, truncated: budget.truncated };
}

/**
 * Shares one read among the consoles polling at once: a read in flight is joined, and a result
 * younger than `maxAgeMs` is reused, so N open pages cost one `fetchSockets()` round, and one
 * serialisation, per period.
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
