/**
 * Connection-state recovery for Socket.IO 4.x clients on one node, with the wire of every other
 * client left as it was.
 *
 * Socket.IO's own `SessionAwareAdapter` appends an offset argument to every event it broadcasts,
 * to every recipient, and keeps every event for the whole window whatever its size. Here the
 * offset goes only to sockets that can use it (Engine.IO v4 sessions on a recovering namespace):
 * a broadcast is encoded once without it for the others, and once with it only when such a
 * socket is among the recipients. Events are kept in one log shared by the namespaces, bounded in
 * time (the window) and in bytes, and a disconnected session is dropped when what it missed
 * passes its own byte cap.
 */
import type { Namespace, Server, Socket } from 'socket.io';
import { Adapter, type BroadcastOptions, type Session } from 'socket.io-adapter';
import { adapterOf, clusterAdapterOf, serverOf, socketOf, type AdapterPacketOptions, type RecoverySocketInternals } from './internals';

type SessionToPersist = Omit<Session, 'missedPackets'>;

/** How long and how much a node keeps for clients that may come back. */
export interface RecoveryLimits {
  /** How long a disconnected session may come back, in ms. */
  windowMs: number;
  /** Most bytes of events kept for one disconnected session; beyond it the session is dropped. */
  sessionBytes: number;
  /** Most bytes of events kept in all, for connected and disconnected sessions; the oldest go first. */
  totalBytes: number;
  /** The namespaces whose Engine.IO v4 sockets may recover. */
  namespaces: readonly string[];
}

/** How a disconnected session ended. */
export type RecoveryOutcome = 'recovered' | 'expired' | 'session_cap' | 'total_cap' | 'unrecoverable';

/** What a node's recovery holds and has done, read when metrics are scraped. */
export interface RecoveryStats {
  /** Sessions ended, per `namespace outcome`. */
  outcomes: Map<string, number>;
  /** Bytes of events held now. */
  heldBytes(): number;
  /** Disconnected sessions that may still come back, per namespace. */
  pending(): Map<string, number>;
}

/** What a namespace hears of a session that will not come back: its `socket.data`. */
export type SessionLost = (data: Record<string, unknown>) => void;

/** One logged event: what recovering sockets were sent, and to whom. */
export interface Entry {
  nsp: string;
  rooms: readonly string[];
  except: readonly string[] | undefined;
  /**
   * The event as it was written, its offset last: strings and buffers, which the garbage
   * collector does not walk, rather than the payload's objects; decoded again on recovery.
   * Undefined when nobody needed it.
   */
  parts: unknown[] | undefined;
  bytes: number;
  at: number;
}

const NO_ROOMS: readonly string[] = [];

/** A disconnected session that may come back. */
interface Pending {
  session: SessionToPersist;
  /** The first sequence number logged after it went. */
  firstMissed: number;
  /** Bytes of the events it missed since. */
  bytes: number;
  /** The sequence number it was last charged for (one event may reach it through several rooms). */
  charged: number;
  timer: NodeJS.Timeout;
}

/** Socket.IO takes a null session as "start afresh", though the adapter's typings leave it out. */
const NOT_RECOVERED = Promise.resolve(null) as unknown as Promise<Session>;

function encodedBytes(parts: unknown[]): number {
  let bytes = 0;
  for (const part of parts) bytes += typeof part === 'string' ? Buffer.byteLength(part) : Buffer.isBuffer(part) ? part.length : 0;
  return bytes;
}

function shouldInclude(rooms: readonly string[], entry: Entry): boolean {
  const included = entry.rooms.length === 0 || rooms.some((room) => entry.rooms.includes(room));
  return included && (!entry.except || rooms.every((room) => !entry.except!.includes(room)));
}

/** Entries dropped from the front of the log before its array is compacted. */
const COMPACT_AFTER = 4096;

/**
 * The log of events the recovering sockets were sent, in order; sequence `base + i` is the `i`th
 * live entry. Dropping from the front moves a start index: at the byte cap every new event drops
 * an old one, and shifting an array of hundreds of thousands of entries each time would cost more
 * than the event itself.
 */
export class EventLog {
  private entries: Entry[] = [];
  private head = 0;
  base = 0;
  bytes = 0;
  constructor(
    private readonly limits: Pick<RecoveryLimits, 'windowMs' | 'totalBytes'>,
    private readonly evicted: (nextSeq: number) => void,
  ) {}

  get next(): number {
    return this.base + this.entries.length - this.head;
  }

  /** The entry of sequence number `seq`, if the log still holds it. */
  at(seq: number): Entry | undefined {
    return seq >= this.base ? this.entries[this.head + seq - this.base] : undefined;
  }

  append(entry: Entry): void {
    this.entries.push(entry);
  }

  /** Takes back the last entry, appended for a broadcast that nobody needed kept. */
  retract(entry: Entry): void {
    if (this.entries.length > this.head && this.entries[this.entries.length - 1] === entry) this.entries.pop();
  }

  /** Drops what is older than the window, then the oldest while over the byte cap. */
  prune(now: number): void {
    const expired = now - this.limits.windowMs;
    const start = this.head;
    let overCap = false;
    while (this.head < this.entries.length && (this.entries[this.head].at < expired || this.bytes > this.limits.totalBytes)) {
      const entry = this.entries[this.head];
      if (entry.at >= expired) overCap = true;
      this.bytes -= entry.bytes;
      this.entries[this.head++] = undefined as unknown as Entry;
    }
    if (this.head === start) return;
    this.base += this.head - start;
    if (this.head >= COMPACT_AFTER && this.head * 2 >= this.entries.length) {
      this.entries = this.entries.slice(this.head);
      this.head = 0;
    }
    if (overCap) this.evicted(this.base);
  }
}

/** What {@link createRecovery} gives the server. */
export interface Recovery {
  /** The adapter class to give `new Server({ adapter })`. */
  adapter: typeof Adapter;
  /** Installs what keeps private ids from the sockets that cannot recover; after the namespaces. */
  hidePrivateIds(io: Server): void;
  /** What Socket.IO's `connectionStateRecovery` option must say. */
  serverOption: { maxDisconnectionDuration: number; skipMiddlewares: false };
  stats: RecoveryStats;
}

/**
 * Builds one node's recovery: an adapter class for all its namespaces, sharing one event log.
 * Middlewares run again on a recovered socket (`skipMiddlewares: false`), so that the client
 * token and rate limits still apply; they must keep what `socket.data` brought back.
 */
export function createRecovery(limits: RecoveryLimits): Recovery {
  const recovering = new Set(limits.namespaces);
  const adapters = new Set<RecoveryAdapter>();
  const outcomes = new Map<string, number>();
  const count = (nsp: string, outcome: RecoveryOutcome) => outcomes.set(`${nsp} ${outcome}`, (outcomes.get(`${nsp} ${outcome}`) ?? 0) + 1);
  /** Numbers each broadcast's charging of pending sessions. */
  let charges = 0;
  const log = new EventLog(limits, (base) => {
    for (const adapter of adapters) adapter.dropMissedBefore(base);
  });

  class RecoveryAdapter extends Adapter {
    /** Disconnected sessions by private id. */
    readonly pending = new Map<string, Pending>();
    /** The same, by Socket.IO id, for the namespace's disconnect handlers. */
    readonly pendingBySid = new Map<string, Pending>();
    /** The same, by room, to charge each one what it misses. */
    readonly pendingByRoom = new Map<string, Set<Pending>>();
    readonly recovers: boolean;
    lost: SessionLost[] = [];

    constructor(nsp: Namespace) {
      super(nsp);
      this.recovers = recovering.has(nsp.name);
      adapters.add(this);
    }

    override broadcast(packet: any, opts: BroadcastOptions): void {
      const storable = packet.type === 2 && packet.id === undefined && opts.flags?.volatile === undefined;
      if (!this.recovers || !storable || this.isDirect(opts)) return super.broadcast(packet, opts);
      const internals = adapterOf(this);
      packet.nsp = this.nsp.name;
      const flags = opts.flags ?? {};
      const plainOpts: AdapterPacketOptions = { preEncoded: true, volatile: flags.volatile, compress: flags.compress };
      const markedOpts: AdapterPacketOptions = { ...plainOpts };
      const at = Date.now();
      // Logged first so that its sequence number, the offset, is known; dropped if nobody needs it.
      const entry: Entry = { nsp: this.nsp.name, rooms: NO_ROOMS, except: undefined, parts: undefined, bytes: 0, at };
      const seq = log.next;
      const marked = { ...packet, data: [...packet.data, String(seq)] };
      log.append(entry);
      let plainParts: unknown[] | undefined;
      let markedParts: unknown[] | undefined;
      internals.apply(opts, (socket: Socket) => {
        const target = socketOf(socket) as RecoverySocketInternals;
        target.notifyOutgoingListeners?.(packet);
        if (socket.conn.protocol === 4) {
          markedParts ??= internals._encode(marked, markedOpts);
          target.client.writeToEngine(markedParts, markedOpts);
        } else {
          plainParts ??= internals._encode(packet, plainOpts);
          target.client.writeToEngine(plainParts, plainOpts);
        }
      });
      const missed = this.pendingFor(opts);
      if (!markedParts && missed.length === 0) {
        log.retract(entry);
        return;
      }
      markedParts ??= internals._encode(marked, markedOpts);
      if (opts.rooms.size > 0) entry.rooms = [...opts.rooms];
      if (opts.except && opts.except.size > 0) entry.except = [...opts.except];
      entry.parts = markedParts;
      entry.bytes = encodedBytes(markedParts);
      log.bytes += entry.bytes;
      for (const pending of missed) {
        pending.bytes += entry.bytes;
        if (pending.bytes > limits.sessionBytes) this.end(pending, 'session_cap');
      }
      log.prune(at);
    }

    /**
     * Whether a packet is a socket's own (`socket.emit`, a reply such as ERROR, CLIENTS, PEERS or
     * a signal), which Socket.IO routes through here when recovery is on. Those carry objects, so
     * a client's last offset stays that of the last room event, and their frames stay as before.
     */
    private isDirect(opts: BroadcastOptions): boolean {
      if (opts.rooms.size !== 1) return false;
      const [room] = opts.rooms;
      return this.nsp.sockets.has(room);
    }

    /** The disconnected sessions of this namespace that a broadcast reaches, each once. */
    private pendingFor(opts: BroadcastOptions): Pending[] {
      if (this.pending.size === 0) return [];
      const found: Pending[] = [];
      const stamp = ++charges;
      const consider = (pending: Pending) => {
        if (pending.charged === stamp) return;
        pending.charged = stamp;
        if (opts.except && pending.session.rooms.some((room) => opts.except!.has(room))) return;
        found.push(pending);
      };
      if (opts.rooms.size === 0) for (const pending of this.pending.values()) consider(pending);
      else for (const room of opts.rooms) for (const pending of this.pendingByRoom.get(room) ?? []) consider(pending);
      return found;
    }

    override persistSession(session: SessionToPersist): void {
      const socket = this.nsp.sockets.get(session.sid);
      if (!this.recovers || !session.pid || socket?.conn.protocol !== 4) return;
      const pending: Pending = {
        session,
        firstMissed: log.next,
        bytes: 0,
        charged: -1,
        timer: setTimeout(() => this.end(pending, 'expired'), limits.windowMs).unref(),
      };
      this.pending.set(session.pid, pending);
      this.pendingBySid.set(session.sid, pending);
      for (const room of session.rooms) {
        let set = this.pendingByRoom.get(room);
        if (!set) this.pendingByRoom.set(room, (set = new Set()));
        set.add(pending);
      }
    }

    override restoreSession(pid: string, offset: string): Promise<Session> {
      const pending = this.pending.get(pid);
      if (!pending) return NOT_RECOVERED;
      const seq = /^\d{1,15}$/.test(offset) ? Number(offset) : NaN;
      // The client has everything up to its offset; what follows must all still be in the log.
      if (!(seq >= log.base - 1 && seq < log.next && pending.firstMissed >= log.base)) {
        this.end(pending, 'unrecoverable');
        return NOT_RECOVERED;
      }
      this.forget(pending);
      count(this.nsp.name, 'recovered');
      const missedPackets: unknown[][] = [];
      for (let next = seq + 1; next < log.next; next++) {
        const entry = log.at(next)!;
        if (entry.parts && entry.nsp === this.nsp.name && shouldInclude(pending.session.rooms, entry)) missedPackets.push(this.decode(entry.parts));
      }
      return Promise.resolve({ ...pending.session, missedPackets });
    }

    /** An event's arguments, from the frame it was written as. */
    private decode(parts: unknown[]): unknown[] {
      const decoder = new (serverOf(this.nsp.server)._parser.Decoder)();
      let data: unknown[] = [];
      decoder.on('decoded', (packet) => {
        data = packet.data as unknown[];
      });
      for (const part of parts) decoder.add(part);
      decoder.destroy();
      return data;
    }

    /** Sessions that missed an event the byte cap pushed out of the log cannot be made whole. */
    dropMissedBefore(base: number): void {
      for (const pending of this.pending.values()) if (pending.firstMissed < base) this.end(pending, 'total_cap');
    }

    private forget(pending: Pending): void {
      clearTimeout(pending.timer);
      this.pending.delete(pending.session.pid);
      this.pendingBySid.delete(pending.session.sid);
      for (const room of pending.session.rooms) {
        const set = this.pendingByRoom.get(room);
        set?.delete(pending);
        if (set?.size === 0) this.pendingByRoom.delete(room);
      }
    }

    private end(pending: Pending, outcome: RecoveryOutcome): void {
      if (this.pending.get(pending.session.pid) !== pending) return;
      this.forget(pending);
      count(this.nsp.name, outcome);
      for (const lost of this.lost) lost(pending.session.data as Record<string, unknown>);
    }

    override close(): void {
      for (const pending of this.pending.values()) clearTimeout(pending.timer);
      adapters.delete(this);
    }
  }

  return {
    hidePrivateIds: (io) => hidePrivateIds(io, limits.namespaces),
    adapter: RecoveryAdapter,
    serverOption: { maxDisconnectionDuration: limits.windowMs, skipMiddlewares: false },
    stats: {
      outcomes,
      heldBytes: () => log.bytes,
      pending: () => new Map([...adapters].map((adapter) => [adapter.nsp.name, adapter.pending.size])),
    },
  };
}

/**
 * Sockets that cannot recover are not told a private id (python-socketio reads its CONNECT
 * packet as `{ sid }`, as it was before recovery), and so leave no session behind. To be
 * installed after the namespaces.
 */
export function hidePrivateIds(io: Server, namespaces: readonly string[]): void {
  for (const nsp of serverOf(io)._nsps.values()) {
    nsp.use((socket, next) => {
      if (!namespaces.includes(nsp.name) || socket.conn.protocol !== 4) (socketOf(socket) as RecoverySocketInternals).pid = undefined;
      next();
    });
  }
}

/** What `io.adapter()` takes: a class, or a function that Socket.IO calls with `new` per namespace. */
export type AdapterFactory = (nsp: Namespace) => Adapter;

/**
 * Wraps a cluster adapter's factory (such as the Redis streams adapter's) so that the offsets
 * it appends to broadcasts for recovery reach only the sockets that can use them: Engine.IO v4
 * sessions on the `recovering` namespaces. Every other socket gets the frame it got without
 * recovery, byte for byte, as {@link createRecovery} does on one node; on the other namespaces
 * no offset is added and no session kept.
 *
 * The cluster adapter appends the offset (`addOffsetIfNecessary`) and then hands the packet to the
 * in-memory adapter's `broadcast`, which encodes it (`_encode`) and walks the recipients
 * (`apply`) at once: the offset is kept aside in the first step and given per recipient in the last.
 */
export function withPerRecipientOffsets(factory: AdapterFactory, recovering: readonly string[]): AdapterFactory {
  // A function, not an arrow: Socket.IO calls it with `new`, and takes the adapter it returns.
  return function (nsp) {
    const adapter = factory(nsp);
    const internals = clusterAdapterOf(adapter);
    const { _encode: encode, apply, persistSession } = internals;
    // The sessions of sockets that were never told a private id cannot come back: none is kept.
    internals.persistSession = (session) => {
      if (session.pid) persistSession.call(adapter, session);
    };
    if (!recovering.includes(nsp.name)) {
      internals.addOffsetIfNecessary = () => {};
      return adapter;
    }
    const offsets = new WeakMap<object, string>();
    let sending: { packet: { data: unknown[] }; offset: string; packetOpts: AdapterPacketOptions } | undefined;
    internals.addOffsetIfNecessary = (packet, opts, offset) => {
      const storable = packet.type === 2 && packet.id === undefined && opts.flags?.volatile === undefined;
      // No offset when the publish failed: the broadcast reached this node's sockets only.
      if (storable && offset) offsets.set(packet, offset);
    };
    internals._encode = (packet, packetOpts) => {
      const offset = offsets.get(packet as object);
      if (offset !== undefined) sending = { packet: packet as { data: unknown[] }, offset, packetOpts };
      return encode.call(adapter, packet, packetOpts);
    };
    internals.apply = (opts, callback) => {
      const current = sending;
      sending = undefined;
      if (!current) return apply.call(adapter, opts, callback);
      let marked: unknown[] | undefined;
      // Options of their own: encoding stores the WebSocket frame in them, and the plain one must stay.
      const markedOpts: AdapterPacketOptions = { ...current.packetOpts, wsPreEncodedFrame: undefined };
      apply.call(adapter, opts, (socket: Socket) => {
        if (socket.conn.protocol !== 4) return callback(socket);
        const target = socketOf(socket) as RecoverySocketInternals;
        target.notifyOutgoingListeners?.(current.packet);
        marked ??= encode.call(adapter, { ...current.packet, data: [...current.packet.data, current.offset] }, markedOpts);
        target.client.writeToEngine(marked, markedOpts);
      });
    };
    return adapter;
  };
}

type RecoveryAdapter = InstanceType<ReturnType<typeof createRecovery>['adapter']> & {
  pendingBySid?: Map<string, Pending>;
  pendingByRoom?: Map<string, Set<Pending>>;
  lost?: SessionLost[];
};

/**
 * Whether a socket that just disconnected may still come back: its namespace then keeps it as a
 * member (no LEFT) until {@link onSessionLost} says it will not.
 */
export function awaitsRecovery(socket: Socket<any, any, any, any>): boolean {
  return (socket.nsp.adapter as RecoveryAdapter).pendingBySid?.has(socket.id) ?? false;
}

/** Calls `lost` with the `socket.data` of each disconnected session of `nsp` that did not come back. */
export function onSessionLost(nsp: Namespace<any, any, any, any>, lost: SessionLost): void {
  (nsp.adapter as RecoveryAdapter).lost?.push(lost);
}

/** The `socket.data` of the disconnected sessions of `nsp` in `room` that may still come back. */
export function pendingMembers(nsp: Namespace<any, any, any, any>, room: string): Record<string, unknown>[] {
  const pending = (nsp.adapter as RecoveryAdapter).pendingByRoom?.get(room);
  return pending ? [...pending].map((entry) => entry.session.data as Record<string, unknown>) : [];
}
