import type { Namespace, Server, Socket } from 'socket.io';
import type { LobbyClientToServerEvents, LobbyServerToClientEvents, NoEvents, SocketData } from '../events';
import { membersOf } from './members';
import { ackOf, BadInput, field, idReader, requireObject, roomKey, verb, type HandlerDeps } from '../protocol';

export type LobbyNamespace = Namespace<LobbyClientToServerEvents, LobbyServerToClientEvents, NoEvents, SocketData>;
type LobbySocket = Socket<LobbyClientToServerEvents, LobbyServerToClientEvents, NoEvents, SocketData>;

/** The refusal a client gets when it connects to `/lobby` without saying which lobby. */
export const LOBBY_ID_REQUIRED = 'lobbyId query parameter required: connect to /lobby?lobbyId=ID';

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
 * Each socket is in at most one lobby; its id is the peer id others signal to.
 */
export function registerLobby(io: Server, deps: HandlerDeps): LobbyNamespace {
  const nsp: LobbyNamespace = io.of('/lobby');
  const { logger } = deps;
  const readId = idReader(deps.limits);

  nsp.use((socket, next) => {
    try {
      socket.data.lobby = readId(lobbyIdOf(socket), 'lobbyId');
      next();
    } catch {
      logger.warn({ nsp: nsp.name, socket: socket.id }, 'refused /lobby connection without lobbyId');
      next(new Error(LOBBY_ID_REQUIRED));
    }
  });

  const enter = async (socket: LobbySocket, lobby: string) => {
    socket.data.lobby = lobby;
    await socket.join(roomKey(lobby));
    nsp.to(roomKey(lobby)).emit('JOINED', socket.id);
    logger.debug({ nsp: nsp.name, socket: socket.id, room: lobby }, 'JOIN');
  };

  nsp.on('connection', async (socket: LobbySocket) => {
    socket.on('JOIN', verb(socket, deps, 'JOIN', async (id: unknown, ack: unknown) => {
      const lobby = readId(id, 'lobby id');
      if (socket.data.lobby !== undefined) {
        ackOf(ack)(`already in lobby ${socket.data.lobby}: LEAVE it first`);
        return;
      }
      await enter(socket, lobby);
      ackOf(ack)();
    }));

    socket.on('LEAVE', verb(socket, deps, 'LEAVE', async (id: unknown, ack: unknown) => {
      const lobby = readId(id, 'lobby id');
      if (socket.data.lobby !== lobby) {
        ackOf(ack)(`not in lobby ${lobby}`);
        return;
      }
      socket.data.lobby = undefined;
      await socket.leave(roomKey(lobby));
      nsp.to(roomKey(lobby)).emit('LEFT', socket.id);
      logger.debug({ nsp: nsp.name, socket: socket.id, room: lobby }, 'LEAVE');
      ackOf(ack)();
    }));

    socket.on('BROADCAST', verb(socket, deps, 'BROADCAST', (payload: unknown) => {
      const request = requireObject(payload, 'BROADCAST payload');
      const lobby = socket.data.lobby;
      if (lobby === undefined) throw new BadInput('not in a lobby', 'not_in_lobby');
      nsp.to(roomKey(lobby)).emit('MESSAGE', { from: socket.id, message: field(request, 'message') });
      logger.debug({ nsp: nsp.name, socket: socket.id, room: lobby }, 'BROADCAST');
    }));

    socket.on('RTCSIGNAL', verb(socket, deps, 'RTCSIGNAL', async (payload: unknown) => {
      const signal = requireObject(payload, 'RTCSIGNAL payload');
      const to = readId(field(signal, 'to'), 'to');
      const lobby = socket.data.lobby;
      if (lobby === undefined) throw new BadInput('not in a lobby', 'not_in_lobby');
      // The peer may sit on another node: fetchSockets() finds it in its own id-room there, and
      // carries its lobby.
      const [peer] = await membersOf(nsp, to, logger);
      if (!peer || peer.id !== to || peer.data.lobby !== lobby) throw new BadInput(`peer ${to} is not in lobby ${lobby}`, 'unknown_peer');
      peer.emit('RTCSIGNAL', { ...signal, to, from: socket.id });
      logger.debug({ nsp: nsp.name, socket: socket.id, room: lobby, to }, 'RTCSIGNAL');
    }));

    socket.on('disconnect', () => {
      if (socket.data.lobby !== undefined) nsp.to(roomKey(socket.data.lobby)).emit('LEFT', socket.id);
    });

    const lobby = socket.data.lobby as string;
    await enter(socket, lobby);
    const members = await membersOf(nsp, roomKey(lobby), logger);
    socket.emit('PEERS', members.map((member) => member.id).filter((id) => id !== socket.id));
  });
  return nsp;
}
