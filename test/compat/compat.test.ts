import { describe, expect, it } from 'vitest';
import { connect, json, startServer } from '../helpers';

async function handshake(url: string, query: string) {
  const response = await fetch(`${url}/socket.io/?${query}&transport=polling`);
  return { type: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
}

describe('Engine.IO v3 long-polling framing', () => {
  it('answers binary-capable v3 clients in the binary framing socket.io 1.x used', async () => {
    const { url } = await startServer();
    const { type, body } = await handshake(url, 'EIO=3');
    expect(type).toBe('application/octet-stream');
    // <0 = string packet><length digits as bytes><0xff><packet "0{...}">
    expect(body[0]).toBe(0);
    const marker = body.indexOf(0xff);
    const length = Number([...body.subarray(1, marker)].join(''));
    const packet = body.subarray(marker + 1).toString('utf8');
    expect(packet.length).toBe(length);
    expect(packet[0]).toBe('0');
    expect(JSON.parse(packet.slice(1))).toHaveProperty('sid');
  });

  it('keeps text framing for base64 v3 clients and for Engine.IO v4', async () => {
    const { url } = await startServer();
    const b64 = await handshake(url, 'EIO=3&b64=1');
    expect(b64.type).toMatch(/^text\/plain/);
    expect(b64.body.toString()).toMatch(/^\d+:0\{/);
    const v4 = await handshake(url, 'EIO=4');
    expect(v4.type).toMatch(/^text\/plain/);
    expect(v4.body.toString()).toMatch(/^0\{/);
  });
});

describe('origins', () => {
  it('accepts any origin by default, on polling (CORS) and WebSocket alike', async () => {
    const { url } = await startServer();
    const response = await fetch(`${url}/socket.io/?EIO=4&transport=polling`, { headers: { origin: 'https://dmapp.example' } });
    expect(response.headers.get('access-control-allow-origin')).toBe('https://dmapp.example');
    expect(response.headers.get('access-control-allow-credentials')).toBe('true');
    for (const transport of ['websocket', 'polling'] as const) {
      const client = await connect('v4', url, '/layout', { transport, extraHeaders: { origin: 'https://dmapp.example' } });
      expect(await client.request('JOIN', json({ room: 'r', name: 'n' }))).toEqual([]);
    }
  });

  it('refuses other origins on both transports when --cors-origin restricts them', async () => {
    const { url } = await startServer({ corsOrigin: ['https://allowed.example'] });
    for (const transport of ['websocket', 'polling'] as const) {
      const allowed = await connect('v4', url, '/layout', { transport, extraHeaders: { origin: 'https://allowed.example' } });
      expect(await allowed.request('JOIN', json({ room: 'r', name: 'n' }))).toEqual([]);
      const refused = await connect('v4', url, '/layout', { transport, extraHeaders: { origin: 'https://evil.example' }, lazy: true });
      expect(await refused.refused).toMatch(/error/i);
    }
    const v1 = await connect('v1', url, '/layout', { transport: 'websocket', extraHeaders: { origin: 'https://evil.example' }, lazy: true });
    expect(await v1.refused).toBeTruthy();
  });
});

describe('close()', () => {
  it('can be called more than once and disconnects clients', async () => {
    const { service, url } = await startServer();
    const client = await connect('v2', url, '/layout');
    await Promise.all([service.close(), service.close()]);
    await service.close();
    expect(await client.disconnected).toMatch(/transport close|io server disconnect/);
    expect(service.httpServer.listening).toBe(false);
  });
});
