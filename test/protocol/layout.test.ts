import { beforeEach, describe, expect, it } from 'vitest';
import { connect, json, startServer, type TestServer } from '../helpers';
import { roomScenarios, singleNode } from '../support/room-scenarios';

let server: TestServer;
beforeEach(async () => {
  server = await startServer();
});

describe('/layout', () => {
  roomScenarios('/layout', () => singleNode(() => server));

  it('keeps its rooms and names apart from /bus', async () => {
    const onLayout = await connect('v4', server.url, '/layout');
    const onBus = await connect('v4', server.url, '/bus');
    await onLayout.request('JOIN', json({ room: 'shared', name: 'tv' }));
    await onBus.request('JOIN', json({ room: 'shared', name: 'debugger' }));
    const publisher = await connect('v4', server.url, '/layout');
    publisher.emit('NOTIFY', json({ room: 'shared', message: 'layout only' }));
    publisher.emit('CLIENTS', json({ room: 'shared' }));
    expect(await onLayout.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'shared', message: 'layout only' });
    expect(await publisher.nextValue('CLIENTS')).toEqual({ room: 'shared', clients: ['tv'] });
    expect(await onBus.drain('EVENT')).toEqual([]);
  });

  it('logs each verb at debug level with namespace, socket id and room', async () => {
    const client = await connect('v4', server.url, '/layout');
    await client.request('JOIN', json({ room: 'logged', name: 'tv' }));
    expect(server.records).toContainEqual(
      expect.objectContaining({ level: 20, msg: 'JOIN', nsp: '/layout', socket: client.publicId, room: 'logged' }),
    );
  });
});
