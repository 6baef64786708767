import { io as ioV4 } from 'socket.io-client';
import { describe, expect, it } from 'vitest';
import { connect, json, startServer, VERSIONS } from '../helpers';

const TOKEN = 's3cret-token';

describe('--client-token', () => {
  it.each(VERSIONS)('admits a %s client that brings the token and refuses one that does not', async (version) => {
    const { url } = await startServer({ clientToken: TOKEN });
    const refused = await connect(version, url, '/layout', { lazy: true });
    expect(await refused.refused).toMatch(/unauthorized/);
    const wrong = await connect(version, url, '/layout', { lazy: true, query: { token: 'wrong-token' } });
    expect(await wrong.refused).toMatch(/unauthorized/);

    // v4 clients send it as auth.token; 1.x and 2.x clients as the token query parameter.
    const admitted =
      version === 'v4'
        ? await new Promise<string>((resolve, reject) => {
            const socket = ioV4(`${url}/layout`, { forceNew: true, transports: ['websocket'], auth: { token: TOKEN } });
            socket.on('connect', () => socket.emit('JOIN', json({ room: 'r', name: 'n' }), () => resolve('joined')));
            socket.on('connect_error', reject);
            setTimeout(() => socket.close(), 3000);
          })
        : await connect(version, url, '/layout', { query: { token: TOKEN } }).then((client) =>
            client.request('JOIN', json({ room: 'r', name: 'n' })).then(() => 'joined'),
          );
    expect(admitted).toBe('joined');
  });

  it('guards /lobby before its own lobbyId check, and the main namespace too', async () => {
    const { url } = await startServer({ clientToken: TOKEN });
    const lobby = await connect('v4', url, '/lobby', { lazy: true, query: { lobbyId: 'L' } });
    expect(await lobby.refused).toMatch(/unauthorized/);
    const main = await connect('v4', url, '/', { lazy: true });
    expect(await main.refused).toMatch(/unauthorized/);
  });

  it('is off by default', async () => {
    const { url } = await startServer();
    const client = await connect('v4', url, '/trigger');
    expect(await client.request('JOIN', 'room')).toEqual([]);
  });
});

describe('--publish-token', () => {
  const post = (url: string, headers: Record<string, string> = {}) =>
    fetch(`${url}/bus-message/room`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"n":1}' });

  it('requires Authorization: Bearer TOKEN on POST /bus-message, and publishes nothing otherwise', async () => {
    const { url } = await startServer({ publishToken: TOKEN });
    const member = await connect('v4', url, '/bus');
    await member.request('JOIN', json({ room: 'room', name: 'm' }));
    for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token' }, { authorization: TOKEN }, { authorization: `Basic ${TOKEN}` }]) {
      const response = await post(url, headers);
      expect(response.status).toBe(401);
      expect(response.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(await member.drain('EVENT')).toEqual([]);
    expect((await post(url, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
    expect(await member.nextValue('EVENT')).toEqual({ sender: 'POST', room: 'room', message: { n: 1 } });
  });

  it('leaves the socket side open: the publish token is not a client token', async () => {
    const { url } = await startServer({ publishToken: TOKEN });
    const client = await connect('v2', url, '/bus');
    expect(await client.request('JOIN', json({ room: 'r', name: 'n' }))).toEqual([]);
  });
});
