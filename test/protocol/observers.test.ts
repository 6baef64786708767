import { beforeEach, describe, expect, it } from 'vitest';
import { connect, startServer, TRANSPORTS, VERSIONS, type TestClient, type TestServer } from '../helpers';

const TOKEN = 'observer-test-token-0123';
let server: TestServer;
beforeEach(async () => {
  server = await startServer({ consoleToken: TOKEN });
});

/** The console page's socket: a 4.x client with the console token and `auth.console`. */
function consoleSocket(nsp: string, query?: Record<string, string>): Promise<TestClient> {
  return connect('v4', server.url, nsp, { query, auth: { console: true, token: TOKEN } });
}

const READ_ONLY = { message: 'the console watches this namespace and cannot send on it' };

describe.each(VERSIONS)('the console watching, beside %s clients', (version) => {
  describe.each(TRANSPORTS)('over %s', (transport) => {
    it('/lobby: hears PEERS, JOINED, MESSAGE and LEFT, while no peer hears of it, lists it, or can signal it; it cannot send', async () => {
      const first = await connect(version, server.url, '/lobby', { transport, query: { lobbyId: 'watched' } });
      const firstId = await first.nextValue('JOINED');
      await first.nextValue('PEERS');

      const watcher = await consoleSocket('/lobby', { lobbyId: 'watched' });
      expect(await watcher.nextValue('PEERS')).toEqual([firstId]);

      const second = await connect(version, server.url, '/lobby', { transport, query: { lobbyId: 'watched' } });
      const secondId = await second.nextValue('JOINED');
      expect(await second.nextValue('PEERS')).toEqual([firstId]);
      expect(await first.nextValue('JOINED')).toBe(secondId);
      expect(await watcher.nextValue('JOINED')).toBe(secondId);

      first.emit('BROADCAST', { message: { hello: 'lobby' } });
      for (const member of [first, second, watcher]) expect(await member.nextValue('MESSAGE')).toEqual({ from: firstId, message: { hello: 'lobby' } });

      // Signalling is between the two peers: the console neither sees it nor can be its target.
      first.emit('RTCSIGNAL', { to: secondId, sdp: 'offer' });
      expect(await second.nextValue('RTCSIGNAL')).toEqual({ to: secondId, from: firstId, sdp: 'offer' });
      first.emit('RTCSIGNAL', { to: watcher.publicId, sdp: 'offer' });
      expect(await first.nextValue('ERROR')).toMatchObject({ event: 'RTCSIGNAL', message: `peer ${watcher.publicId} is not in lobby watched` });

      for (const [event, args] of [['BROADCAST', [{ message: 'from the console' }]], ['RTCSIGNAL', [{ to: firstId }]], ['LEAVE', ['watched']], ['JOIN', ['other']]] as const) {
        watcher.emit(event, ...args);
        expect(await watcher.nextValue('ERROR')).toEqual({ event, ...READ_ONLY });
      }

      second.close();
      expect(await first.nextValue('LEFT')).toBe(secondId);
      expect(await watcher.nextValue('LEFT')).toBe(secondId);
      watcher.close();
      expect(await first.drain('LEFT')).toEqual([]);
      expect(await first.drain('JOINED')).toEqual([]);
      expect(await first.drain('MESSAGE')).toEqual([]);
    });

    it('/trigger: hears EVENTS, UPDATES and STATUS of the rooms it joined, and cannot broadcast', async () => {
      const timeline = await connect(version, server.url, '/trigger', { transport });
      const editor = await connect(version, server.url, '/trigger', { transport });
      const watcher = await consoleSocket('/trigger');
      expect(await timeline.request('JOIN', 'doc-1')).toEqual([]);
      expect(await watcher.request('JOIN', 'doc-1')).toEqual([]);

      editor.emit('BROADCAST_EVENTS', 'doc-1', { events: [1] });
      editor.emit('BROADCAST_UPDATES', 'doc-1', { updates: [2] });
      editor.emit('BROADCAST_STATUS', 'doc-1', { status: 'ok' });
      for (const member of [timeline, watcher]) {
        expect(await member.nextValue('EVENTS')).toEqual({ events: [1] });
        expect(await member.nextValue('UPDATES')).toEqual({ updates: [2] });
        expect(await member.nextValue('STATUS')).toEqual({ status: 'ok' });
      }

      watcher.emit('BROADCAST_EVENTS', 'doc-1', { from: 'the console' });
      expect(await watcher.nextValue('ERROR')).toEqual({ event: 'BROADCAST_EVENTS', ...READ_ONLY });
      expect(await timeline.drain('EVENTS')).toEqual([]);
    });
  });
});

describe('the console mark', () => {
  it('is given only with the console token: auth.console with a wrong token joins /lobby as a peer, and may send', async () => {
    const first = await connect('v4', server.url, '/lobby', { query: { lobbyId: 'l' } });
    const firstId = await first.nextValue('JOINED');
    const pretender = await connect('v4', server.url, '/lobby', { query: { lobbyId: 'l' }, auth: { console: true, token: 'guess' } });
    expect(await first.nextValue('JOINED')).toBe(pretender.publicId);
    expect(await pretender.nextValue('JOINED')).toBe(pretender.publicId);
    expect(await pretender.nextValue('PEERS')).toEqual([firstId]);
    pretender.emit('BROADCAST', { message: 'x' });
    expect(await first.nextValue('MESSAGE')).toEqual({ from: pretender.publicId, message: 'x' });
  });
});
