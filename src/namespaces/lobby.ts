import type { Namespace, Server, Socket } from 'socket.io';
import { awaitsRecovery, onSessionLost, pendingMembers } from '../engine';
import { refuse, type Refusal } from '../errors';
import type { LobbyClientToServerEvents, LobbyServerToClientEvents, NoEvents, SocketData } from '../events';
import { field, idReader, requireObject } from '../protocol';
import { peerKey, roomKey } from '../rooms';
import { membersOf } from './members';
import { ackOf, publicId, unlessObserver, verbKit, type NamespaceDeps } from './verb';

export type LobbyNamespace = Namespace<LobbyClientToServerEvents, LobbyServerToClientEvents, NoEvents, SocketData>;
type LobbySocket = Socket<LobbyClientToServerEvents, LobbyServerToClientEvents, NoEvents, SocketData>;

/**
 * The lobby id from the handshake. Clients 1.x and 4.x put it in the Engine.IO query; 2.x clients
 * put a namespace's query in its CONNECT packet, which Socket.IO 4 hands over as `auth`.
 */
function lobbyIdOf(socket: LobbySocket): unknown {
  const fromQuery = socket.handshake.query.lobbyId;
  const auth = socket.handshake.auth as Record<string, unknown> | undefined;
  return fromQuery ?? (auth ? field(auth, 'lobbyId') : undefined);
}

/**
 * `/lobby`: a WebRTC-style peer lobby (what the 2018 code meant; it crashed on first use).
 * Each socket is in at most one lobby; its public id is the peer id others signal to.
 */
export function registerLobby(io: Server, deps: NamespaceDeps): LobbyNamespace {
  const nsp: LobbyNamespace = io.of('/lobby');
  const { logger, metrics } = deps;
  const readId = idReader(deps.limits);
  const on = verbKit<LobbySocket, keyof LobbyClientToServerEvents>(nsp, deps);

  nsp.use((socket, next) => {
    // A recovered socket is where it was: in its lobby, or in none after a LEAVE.
    if (socket.recovered) return next();
    try {
      socket.data.lobby = readId(lobbyIdOf(socket), 'lobbyId');
      next();
    } catch {
      const refusal = refuse('lobby_id_required');
      metrics.refused(refusal.metric);
      logger.warn({ socket: publicId(socket), reason: refusal.code }, 'refused /lobby connection without lobbyId');
      next(refusal);
    }
  });

  /** A JOIN or LEAVE refused through its ack, which is what the lobby's callers wait for. */
  const refuseByAck = (socket: LobbySocket, ack: unknown, refusal: Refusal) => {
    metrics.refused(refusal.metric);
    logger.debug({ socket: publicId(socket), reason: refusal.code }, 'refused through the ack');
    ackOf(ack)(refusal.message);
  };

  const enter = async (socket: LobbySocket, lobby: string) => {
    socket.data.lobby = lobby;
    await socket.join(roomKey(lobby));
    nsp.to(roomKey(lobby)).emit('JOINED', publicId(socket));
    logger.debug({ socket: publicId(socket), room: lobby }, 'JOIN');
  };

  const join = unlessObserver(async (socket: LobbySocket, id: unknown, ack: unknown) => {
    const lobby = readId(id, 'lobby id');
    if (socket.data.lobby !== undefined) return refuseByAck(socket, ack, refuse('already_in_lobby', socket.data.lobby));
    await enter(socket, lobby);
    ackOf(ack)();
  });

  const leave = unlessObserver(async (socket: LobbySocket, id: unknown, ack: unknown) => {
    const lobby = readId(id, 'lobby id');
    if (socket.data.lobby !== lobby) return refuseByAck(socket, ack, refuse('not_that_lobby', lobby));
    socket.data.lobby = undefined;
    await socket.leave(roomKey(lobby));
    nsp.to(roomKey(lobby)).emit('LEFT', publicId(socket));
    logger.debug({ socket: publicId(socket), room: lobby }, 'LEAVE');
    ackOf(ack)();
  });

  const broadcast = unlessObserver((socket: LobbySocket, payload: unknown) => {
    const request = requireObject(payload, 'BROADCAST payload');
    const lobby = socket.data.lobby;
    if (lobby === undefined) throw refuse('not_in_lobby');
    nsp.to(roomKey(lobby)).emit('MESSAGE', { from: publicId(socket), message: field(request, 'message') });
    logger.debug({ socket: publicId(socket), room: lobby }, 'BROADCAST');
  });

  const rtcSignal = unlessObserver(async (socket: LobbySocket, payload: unknown) => {
    const signal = requireObject(payload, 'RTCSIGNAL payload');
    const to = readId(field(signal, 'to'), 'to');
    const lobby = socket.data.lobby;
    if (lobby === undefined) throw refuse('not_in_lobby');
    // The peer may sit on another node: fetchSockets() finds it in its peer room there, and
    // carries its lobby.
    const [peer] = await membersOf(nsp, peerKey(to), logger);
    if (!peer || peer.data.id !== to || peer.data.lobby !== lobby) throw refuse('unknown_peer', to, lobby);
    peer.emit('RTCSIGNAL', { ...signal, to, from: publicId(socket) });
    logger.debug({ socket: publicId(socket), room: lobby, to }, 'RTCSIGNAL');
  });

  /** The ids of a lobby's peers but `socket`: those connected, on any node, and those that may come back. */
  const peersOf = async (lobby: string, socket: LobbySocket): Promise<string[]> => {
    const members = await membersOf(nsp, roomKey(lobby), logger);
    const connected = members.flatMap((member) => (member.data.observer ? [] : [member.data.id]));
    const pending = pendingMembers(nsp, roomKey(lobby)).flatMap((data) => (data.observer ? [] : [data.id as string]));
    return [...connected, ...pending].filter((id) => id !== publicId(socket));
  };

  /**
   * The console page watches a lobby without being one of its peers: it hears PEERS, JOINED, LEFT
   * and MESSAGE, but nobody hears of it, it has no peer room to be signalled in, and it sends
   * nothing. RTCSIGNAL stays between the two peers: it carries their network addresses.
   */
  const watch = async (socket: LobbySocket) => {
    const lobby = socket.data.lobby as string;
    await socket.join(roomKey(lobby));
    socket.emit('PEERS', await peersOf(lobby, socket));
    logger.debug({ socket: publicId(socket), room: lobby }, 'console watching');
  };

  nsp.on('connection', async (socket: LobbySocket) => {
    on(socket, 'JOIN', join);
    on(socket, 'LEAVE', leave);
    on(socket, 'BROADCAST', broadcast);
    on(socket, 'RTCSIGNAL', rtcSignal);
    if (socket.data.observer) return watch(socket);
    socket.on('disconnect', () => {
      // A peer that may come back stays a member: LEFT waits until it will not (onSessionLost).
      if (socket.data.lobby !== undefined && !awaitsRecovery(socket)) nsp.to(roomKey(socket.data.lobby)).emit('LEFT', publicId(socket));
    });
    // Its rooms, lobby and id came back with it, and its peers never saw it leave.
    if (socket.recovered) return;

    const lobby = socket.data.lobby as string;
    await socket.join(peerKey(publicId(socket)));
    await enter(socket, lobby);
    socket.emit('PEERS', await peersOf(lobby, socket));
  });
  onSessionLost(nsp, (data) => {
    if (typeof data.lobby === 'string' && !data.observer) nsp.to(roomKey(data.lobby)).emit('LEFT', data.id as string);
  });
  return nsp;
}
