import { io } from 'socket.io-client';
import { afterEach, describe, expect, it } from 'vitest';
import { EVENT_TIMEOUT, startServer } from '../helpers';

const sockets: ReturnType<typeof io>[] = [];
afterEach(() => {
  for (const socket of sockets.splice(0)) socket.disconnect();
});

function once<T>(socket: ReturnType<typeof io>, event: string): Promise<T> {
  return new Promise((resolve, reject) => {
    socket.once(event, (value: T) => resolve(value));
    setTimeout(() => reject(new Error(`no ${event} within ${EVENT_TIMEOUT} ms`)), EVENT_TIMEOUT);
  });
}

describe('/lobby from a 4.x client that already has a connection', () => {
  it('loses the query to multiplexing, and is told to pass lobbyId in auth', async () => {
    const server = await startServer();
    const layout = io(`${server.url}/layout`, { transports: ['websocket'] });
    sockets.push(layout);
    await once(layout, 'connect');
    // What a user writes; the client reuses the /layout connection and drops the query.
    const lobby = io(`${server.url}/lobby?lobbyId=L`, { transports: ['websocket'] });
    sockets.push(lobby);
    expect(lobby.io).toBe(layout.io);
    const error = await once<Error>(lobby, 'connect_error');
    expect(error.message).toBe('lobbyId required: pass lobbyId in auth (4.x) or the query (1.x/2.x)');
  });

  it('joins with lobbyId in auth over the shared connection', async () => {
    const server = await startServer();
    const layout = io(`${server.url}/layout`, { forceNew: true, transports: ['websocket'] });
    sockets.push(layout);
    await once(layout, 'connect');
    const lobby = layout.io.socket('/lobby', { auth: { lobbyId: 'L' } });
    sockets.push(lobby);
    expect(await once<unknown[]>(lobby, 'PEERS')).toEqual([]);
  });
});
