import { io } from 'socket.io-client';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { ClientSocket, ClientsReply, ErrorReply, LobbyMessage, RoomEvent, ServerToClientEvents } from '../../src';
import { connect, json, startServer } from '../helpers';

// `npm test` type-checks this file with tsc before vitest runs it: the @ts-expect-error lines
// fail the build if the event maps ever accept what the protocol refuses.
describe('typed client events', () => {
  it('types every verb and payload of /layout for a TypeScript DMApp', async () => {
    const { url } = await startServer();
    const socket = io(`${url}/layout`, { forceNew: true, transports: ['websocket'] }) as ClientSocket<'/layout'>;
    const subscriber = await connect('v4', url, '/layout');
    await subscriber.request('JOIN', json({ room: 'typed', name: 'tv' }));
    await new Promise<void>((resolve) => socket.emit('JOIN', { room: 'typed', name: 'phone' }, () => resolve()));
    socket.emit('NOTIFY', JSON.stringify({ room: 'typed', message: { any: 'json' } }));
    // @ts-expect-error a NOTIFY needs a room
    socket.emit('NOTIFY', { message: 1 });
    // @ts-expect-error no such verb on /layout
    socket.emit('BROADCAST', { message: 1 });
    socket.on('EVENT', (event) => expectTypeOf(event).toEqualTypeOf<RoomEvent>());
    socket.on('CLIENTS', (reply) => expectTypeOf(reply).toEqualTypeOf<ClientsReply>());
    socket.on('ERROR', (error) => expectTypeOf(error).toEqualTypeOf<ErrorReply>());
    expect(await subscriber.nextValue('EVENT')).toEqual({ sender: 'phone', room: 'typed', message: { any: 'json' } });
    socket.close();
  });

  it('types /lobby and /trigger', () => {
    expectTypeOf<Parameters<ServerToClientEvents<'/lobby'>['MESSAGE']>[0]>().toEqualTypeOf<LobbyMessage>();
    expectTypeOf<Parameters<ServerToClientEvents<'/lobby'>['PEERS']>[0]>().toEqualTypeOf<string[]>();
    const trigger = io('http://127.0.0.1:1/trigger', { autoConnect: false }) as ClientSocket<'/trigger'>;
    trigger.emit('BROADCAST_STATUS', 'room', { state: 'playing' });
    // @ts-expect-error BROADCAST_STATUS takes the room first
    trigger.emit('BROADCAST_STATUS', { state: 'playing' });
    const lobby = io('http://127.0.0.1:1/lobby', { autoConnect: false }) as ClientSocket<'/lobby'>;
    lobby.emit('JOIN', 'L', (error) => expectTypeOf(error).toEqualTypeOf<string | undefined>());
    // @ts-expect-error RTCSIGNAL needs a peer id in `to`
    lobby.emit('RTCSIGNAL', { sdp: 'x' });
  });
});
