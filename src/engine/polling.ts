import type { IncomingMessage, Server as HttpServer, ServerResponse } from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import type { Server as EngineServer, Socket as EngineSocket } from 'engine.io';
import { resetConnection } from './connection';
import { engineSocketOf, pollingOf, type EngineSocketInternals } from './internals';

/** A poll's answer, and the connection it went out on. */
export interface Answer {
  res: ServerResponse;
  connection: NetSocket;
  /** Its length as written (characters of a string payload, bytes of a binary one). */
  length: number;
}

const NONE: readonly Answer[] = Object.freeze([]);

/** Each long-polling session's answers written since the last look, some perhaps still unread. */
const answers = new WeakMap<EngineSocketInternals, Answer[]>();

/** The last answer each connection carried, until the connection carries another request. */
const lastAnswer = new WeakMap<NetSocket, Answer>();

/** Whether an answer may still be waiting for the client: its connection is open and has carried nothing since. */
function unread(answer: Answer): boolean {
  return lastAnswer.get(answer.connection) === answer && !answer.connection.destroyed;
}

/** Drops the answers known to be read, in place. */
function prune(list: Answer[]): Answer[] {
  let kept = 0;
  for (const answer of list) if (unread(answer)) list[kept++] = answer;
  list.length = kept;
  return list;
}

/**
 * The answers to a long-polling session's polls that the client may not have read: each one
 * whose connection is still open and has carried no request since. An HTTP client sends nothing
 * more on a connection before it has read the answer, so a connection that carries a request has
 * delivered the one before; one left alone may be holding it, in Node's buffer or in the kernel's
 * send queue, where nothing else counts it.
 */
export function unreadAnswers(socket: EngineSocket): readonly Answer[] {
  const list = answers.get(engineSocketOf(socket));
  return list ? prune(list) : NONE;
}

/** A connection that still holds its last answer when it times out is reset. */
function onIdle(this: NetSocket): void {
  if (lastAnswer.has(this)) resetConnection(this);
}

/**
 * Follows the answers to long-polling requests (see {@link unreadAnswers}). engine.io writes an
 * answer with `res.end()` and takes the next poll at once, read or not: a client that polls on a
 * new connection each time and never reads would leave every answer behind in the server's socket
 * buffers, for as long as the connections last, and they outlive its session.
 *
 * A connection whose answer has gone to the kernel then waits `idleMs` (instead of Node's 5 s
 * keep-alive timeout) for its next request, and is reset if none comes: closed the ordinary way,
 * it would leave the kernel trying to deliver an unread answer long after Node let it go.
 */
export function trackPollingAnswers(engine: EngineServer, http: HttpServer, idleMs: number): void {
  // engine.io may answer a poll before this listener runs: only an earlier answer is delivered.
  http.on('request', (req: IncomingMessage, res: ServerResponse) => {
    if (lastAnswer.get(req.socket)?.res !== res) lastAnswer.delete(req.socket);
  });
  http.on('upgrade', (req: IncomingMessage) => lastAnswer.delete(req.socket));

  engine.on('connection', (socket: EngineSocket) => {
    const internals = engineSocketOf(socket);
    if (internals.transport.name !== 'polling') return;
    const transport = pollingOf(internals.transport);
    const list: Answer[] = [];
    answers.set(internals, list);
    const write = transport.write;
    transport.write = function answerPoll(data, options) {
      const res = transport.res;
      write.call(this, data, options);
      const connection = res?.socket;
      if (!res || !connection) return;
      const answer: Answer = { res, connection, length: data.length };
      lastAnswer.set(connection, answer);
      prune(list).push(answer);
      res.once('finish', () => {
        if (lastAnswer.get(connection) !== answer) return;
        connection.setTimeout(idleMs);
        if (!connection.listeners('timeout').includes(onIdle)) connection.prependListener('timeout', onIdle);
      });
    };
  });
}
