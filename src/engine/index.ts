/**
 * Everything this service does to engine.io's and Socket.IO's private parts lives in this folder.
 * {@link patchEngine} applies it all to a server, once, after checking that the installed versions
 * are the ones the patches were written and tested against.
 */
import fs from 'node:fs';
import type { Server as HttpServer } from 'node:http';
import path from 'node:path';
import type { Server } from 'socket.io';
import { coalesceWrites } from './coalesce';
import { useLegacyPollingFraming } from './eio3';
import { releaseHandshakeRequests } from './handshake';
import { compactListeners } from './listeners';
import { holdPacketsUntilConnected } from './pending-connect';
import { releaseLastFrames, slimConnections } from './slim';
import { trackPollingAnswers } from './polling';

export { queuedBytes, forEachSessionWithData, noteWrittenSessions, cutSession } from './buffers';
export { resetConnection } from './connection';
export { localSockets } from './local-sockets';
export { onOutgoingPacket } from './outgoing';
export { refuseUnsafeAckIds } from './ack-ids';
export { compactListenerTable } from './listeners';
export {
  createRecovery,
  awaitsRecovery,
  onSessionLost,
  pendingMembers,
  hidePrivateIds,
  withPerRecipientOffsets,
  type AdapterFactory,
  type Recovery,
  type RecoveryStats,
} from './recovery';

/** The release lines the patches were tested with (`package.json` pins the same with `~`). */
export const TESTED_VERSIONS = { 'socket.io': '4.8', 'engine.io': '6.6' } as const;

/** The version of an installed package; its `exports` hide `package.json`, so it is found by path. */
function installedVersion(name: string, from: string): string {
  let dir = path.dirname(require.resolve(name, { paths: [from] }));
  while (!fs.existsSync(path.join(dir, 'package.json')) || JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).name !== name) {
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find the package.json of ${name}`);
    dir = parent;
  }
  return JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')).version as string;
}

/**
 * Refuses versions of socket.io and engine.io (the one socket.io itself loads) that the engine
 * patches were not tested with: their private shapes may have moved.
 * @throws {Error} with one line naming the package, the version found and the one expected.
 */
export function checkEngineVersions(): void {
  const socketIo = installedVersion('socket.io', __dirname);
  const engineIo = installedVersion('engine.io', path.dirname(require.resolve('socket.io')));
  for (const [name, found] of [['socket.io', socketIo], ['engine.io', engineIo]] as const) {
    const tested = TESTED_VERSIONS[name];
    if (!found.startsWith(tested + '.')) {
      throw new Error(`${name} ${found} is installed, but the engine patches were tested with ${tested}.x only: install ${name}@~${tested}`);
    }
  }
}

/**
 * Applies the service's engine work to a Socket.IO server, after `io.attach()` and after the
 * namespaces are registered:
 * - Engine.IO v3 long-polling framed as engine.io 1.x framed it ({@link useLegacyPollingFraming});
 * - one system call per socket per event-loop turn ({@link coalesceWrites});
 * - no HTTP request kept per connection ({@link releaseHandshakeRequests});
 * - compact listener tables ({@link compactListeners});
 * - small per-connection maps and lists ({@link slimConnections});
 * - no WebSocket frame kept once read ({@link releaseLastFrames});
 * - packets sent right behind a namespace CONNECT kept until it is answered ({@link holdPacketsUntilConnected});
 * - the answers to long-polling requests followed until the client has them, so that what a
 *   client does not read is counted, and connections left holding it are reset after
 *   `answerTimeout` ms ({@link trackPollingAnswers}).
 * @throws {Error} when the installed versions were not tested (see {@link checkEngineVersions}).
 */
export function patchEngine(io: Server, { answerTimeout }: { answerTimeout: number }): void {
  checkEngineVersions();
  useLegacyPollingFraming(io.engine);
  coalesceWrites(io.engine);
  releaseHandshakeRequests(io.engine);
  compactListeners(io);
  slimConnections(io);
  releaseLastFrames(io);
  holdPacketsUntilConnected(io);
  trackPollingAnswers(io.engine, io.httpServer as HttpServer, answerTimeout);
}
