import { describe, expect, it } from 'vitest';
import { connect, json, WIRES, type ClientVersion, type TestServer, type Transport } from '../helpers';

/**
 * Where the two ends of a scenario connect: `subscriber` and `publisher` may be different nodes
 * of a cluster, or the same single node.
 */
export interface Topology {
  subscriber: () => string;
  publisher: () => string;
}

/** One node serves both ends. */
export function singleNode(server: () => TestServer): Topology {
  return { subscriber: () => server().url, publisher: () => server().url };
}

/**
 * The `/layout` and `/bus` verbs as the README describes them ("The protocol" > "`/layout` and
 * `/bus`"), for every client generation over every transport (or the `wires` given). Shared by the
 * namespace suites and the cluster suites.
 */
export function roomScenarios(
  nsp: '/layout' | '/bus',
  topology: () => Topology,
  wires: readonly { version: ClientVersion; transport: Transport }[] = WIRES,
): void {
  describe.each(wires)('$version over $transport', ({ version, transport }) => {
    const join = async (url: string, room: string, name: string) => {
      const client = await connect(version, url, nsp, { transport });
      expect(await client.request('JOIN', json({ room, name }))).toEqual([]);
      return client;
    };

    it('acks JOIN with no arguments and relays NOTIFY to every other member, never the sender', async () => {
      const { subscriber, publisher } = topology();
      const alice = await join(subscriber(), 'r1', 'alice');
      const carol = await join(subscriber(), 'r1', 'carol');
      const bob = await join(publisher(), 'r1', 'bob');
      const message = { slide: 3, nested: { list: [1, 'two', null] } };
      bob.emit('NOTIFY', json({ room: 'r1', message, sender: 'spoofed' }));
      const expected = { sender: 'bob', room: 'r1', message };
      expect(await alice.nextValue('EVENT')).toEqual(expected);
      expect(await carol.nextValue('EVENT')).toEqual(expected);
      expect(await bob.drain('EVENT')).toEqual([]);
    });

    it('delivers any JSON message unchanged, in order, and accepts the object form', async () => {
      const { subscriber, publisher } = topology();
      const alice = await join(subscriber(), 'r2', 'alice');
      const bob = await connect(version, publisher(), nsp, { transport });
      const messages = ['text', 42, null, [1, 2], { deep: { x: true } }];
      for (const message of messages) bob.emit('NOTIFY', { room: 'r2', message });
      for (const message of messages) {
        expect(await alice.nextValue('EVENT')).toEqual({ sender: 'unknown', room: 'r2', message });
      }
    });

    it('lets a publisher notify a room it never joined, under its last JOIN name', async () => {
      const { subscriber, publisher } = topology();
      const alice = await join(subscriber(), 'r3', 'alice');
      const bob = await join(publisher(), 'elsewhere', 'bob');
      bob.emit('NOTIFY', json({ room: 'r3', message: 'hi' }));
      expect(await alice.nextValue('EVENT')).toEqual({ sender: 'bob', room: 'r3', message: 'hi' });
      expect(await bob.request('JOIN', json({ room: 'elsewhere', name: 'robert' }))).toEqual([]);
      bob.emit('NOTIFY', json({ room: 'r3', message: 'again' }));
      expect(await alice.nextValue('EVENT')).toEqual({ sender: 'robert', room: 'r3', message: 'again' });
    });

    it('answers CLIENTS with the names in that room only, to the requester only', async () => {
      const { subscriber, publisher } = topology();
      const alice = await join(subscriber(), 'r4', 'alice');
      await join(publisher(), 'r4', 'bob');
      await join(subscriber(), 'other-room', 'mallory');
      const asker = await connect(version, publisher(), nsp, { transport });
      asker.emit('CLIENTS', json({ room: 'r4' }));
      const reply = (await asker.nextValue('CLIENTS')) as { room: string; clients: string[] };
      expect(reply.room).toBe('r4');
      expect([...reply.clients].sort()).toEqual(['alice', 'bob']);
      expect(await alice.drain('CLIENTS')).toEqual([]);
    });

    it('stops delivering after LEAVE, which is acked with no arguments', async () => {
      const { subscriber, publisher } = topology();
      const alice = await join(subscriber(), 'r5', 'alice');
      const bob = await connect(version, publisher(), nsp, { transport });
      expect(await alice.request('LEAVE', json({ room: 'r5' }))).toEqual([]);
      bob.emit('NOTIFY', json({ room: 'r5', message: 'gone?' }));
      bob.emit('CLIENTS', json({ room: 'r5' }));
      expect(await bob.nextValue('CLIENTS')).toEqual({ room: 'r5', clients: [] });
      expect(await alice.drain('EVENT')).toEqual([]);
    });

    it('forgets the rooms and the name of a client that disconnects', async () => {
      const { subscriber, publisher } = topology();
      const alice = await join(subscriber(), 'r6', 'alice');
      await join(subscriber(), 'r6', 'carol');
      alice.close();
      const bob = await connect(version, publisher(), nsp, { transport });
      await expect.poll(async () => {
        bob.emit('CLIENTS', json({ room: 'r6' }));
        return bob.nextValue('CLIENTS');
      }).toEqual({ room: 'r6', clients: ['carol'] });
    });
  });
}
