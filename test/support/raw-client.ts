/**
 * Engine.IO/Socket.IO spoken by hand, for the tests that must send what no client library would
 * (malformed frames, floods, half-sent requests) or control exactly how a session ends.
 *
 * Wire reminders (Engine.IO v4 / Socket.IO v5): the server opens with `0{"sid":…}`; `40/nsp,` connects
 * a namespace and is answered `40/nsp,{"sid":…}` (or refused with `44/nsp,{"message":…}`);
 * `42/nsp,[…]` is an event, `42/nsp,7[…]` one that wants ack 7, answered `43/nsp,7[…]`;
 * `451-/nsp,[…{"_placeholder":true,"num":0}]` is an event whose one binary attachment follows as a
 * binary frame. Engine.IO v4 servers ping (`2`) and the client answers (`3`); Engine.IO v3 clients
 * ping themselves, and their sessions get `40` (the main namespace) unasked, right after the open
 * packet. Over v3 long-polling with `b64=1`, each packet of a payload is prefixed `length:`.
 */
import http from 'node:http';
import type { Socket as NetSocket } from 'node:net';
import WebSocket from 'ws';
import { EVENT_TIMEOUT } from '../helpers';

/** One WebSocket message: a text frame or a binary one. */
export type Frame = string | Buffer;

export type EngineVersion = 3 | 4;

function toBuffer(data: WebSocket.RawData): Buffer {
  if (Buffer.isBuffer(data)) return data;
  if (Array.isArray(data)) return Buffer.concat(data);
  return Buffer.from(data);
}

const show = (frame: Frame) => (typeof frame === 'string' ? frame.slice(0, 120) : `<binary ${frame.length} bytes>`);

/** The sessions not yet closed, for {@link terminateRawClients}; a closed one drops out at once. */
const live = new Set<RawClient>();

/**
 * Terminates every raw WebSocket session still open, for an `afterEach` of a file whose tests
 * leave sessions behind on purpose (or on failure).
 */
export function terminateRawClients(): void {
  for (const client of live) client.terminate();
}

interface Waiter {
  match: (frame: Frame) => boolean;
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * One Engine.IO session over a `ws` WebSocket (EIO=3 or EIO=4), driven frame by frame. Every
 * incoming frame is recorded in {@link frames}; the ones no `next()` was waiting for are queued
 * until one asks for them. Engine.IO v4 pings are answered, so a session lives as long as a test
 * needs it.
 */
export class RawClient {
  /** Every frame received, in order, pings and the open packet included. */
  readonly frames: Frame[] = [];
  /** The open packet: the Engine.IO session id and, from the server's options, the largest payload. */
  open: { sid: string; maxPayload?: number } = { sid: '' };
  /** Resolves with the close code once the connection is closed, whoever closed it. */
  readonly closed: Promise<number>;
  isClosed = false;
  private readonly queue: Frame[] = [];
  private readonly waiters: Waiter[] = [];
  private ackIds = 0;

  private constructor(
    readonly ws: WebSocket,
    readonly eio: EngineVersion,
  ) {
    ws.on('message', (data, isBinary) => this.push(isBinary ? toBuffer(data) : data.toString()));
    ws.on('error', () => {}); // a reset surfaces as 'close' too
    this.closed = new Promise((resolve) =>
      ws.on('close', (code) => {
        this.isClosed = true;
        live.delete(this);
        // Whatever is still awaited will not come: fail now, not at the timeout.
        for (const waiter of this.waiters.splice(0)) {
          clearTimeout(waiter.timer);
          waiter.reject(this.failure('the connection closed'));
        }
        resolve(code);
      }),
    );
    live.add(this);
  }

  /**
   * Opens a WebSocket session on `port` (`query` is appended to the handshake URL, starting with
   * `&`) and waits for the open packet and, on v3, the main namespace's connect.
   */
  static async open(port: number, eio: EngineVersion = 4, query = ''): Promise<RawClient> {
    const client = new RawClient(new WebSocket(`ws://127.0.0.1:${port}/socket.io/?EIO=${eio}&transport=websocket${query}`), eio);
    const open = await client.next((f) => typeof f === 'string' && f.startsWith('0{'), 'open packet');
    client.open = JSON.parse((open as string).slice(1));
    if (eio === 3) await client.next((f) => f === '40', 'v3 main-namespace connect');
    return client;
  }

  private push(frame: Frame) {
    this.frames.push(frame);
    if (this.eio === 4 && frame === '2') return this.ws.send('3');
    const index = this.waiters.findIndex((w) => w.match(frame));
    if (index < 0) return void this.queue.push(frame);
    const [waiter] = this.waiters.splice(index, 1);
    clearTimeout(waiter.timer);
    waiter.resolve(frame);
  }

  private failure(why: string): Error {
    return new Error(`${why}; received: ${this.frames.map(show).join(' | ')}`);
  }

  /**
   * The next frame (already queued or still to come) that `match` accepts. Fails naming `what`
   * after `timeout` ms, or as soon as the connection closes without it.
   */
  next(match: (frame: Frame) => boolean, what = 'matching frame', timeout = EVENT_TIMEOUT): Promise<Frame> {
    const index = this.queue.findIndex(match);
    if (index >= 0) return Promise.resolve(this.queue.splice(index, 1)[0]);
    if (this.isClosed) return Promise.reject(this.failure(`no ${what}: the connection closed`));
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        match,
        resolve,
        reject: (error) => reject(new Error(`no ${what}: ${error.message}`)),
        timer: setTimeout(() => {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          reject(this.failure(`no ${what} within ${timeout} ms`));
        }, timeout),
      };
      this.waiters.push(waiter);
    });
  }

  send(frame: Frame): void {
    this.ws.send(frame);
  }

  /**
   * Sends a CONNECT for `nsp` (with `auth`, the JSON text of the auth payload, if any) and resolves
   * with the server's reply frame, `40…` or `44…`.
   */
  async connectReply(nsp: string, auth = ''): Promise<string> {
    this.send(`40${nsp},${auth}`);
    const name = nsp.split('?')[0]; // a v3 namespace may carry a query; the reply names the path
    return (await this.next(
      (f) => typeof f === 'string' && (f.startsWith(`40${name},`) || f.startsWith(`44${name},`)),
      `connect reply from ${name}`,
    )) as string;
  }

  /** Connects namespace `nsp` on this session; resolves with the socket id the server gave it. */
  async connectNsp(nsp: string, auth = ''): Promise<string> {
    const reply = await this.connectReply(nsp, auth);
    const name = nsp.split('?')[0];
    if (reply.startsWith('44')) throw new Error(`connection to ${name} refused: ${reply}`);
    // v3 clients get no sid: Socket.IO 4 names their sockets `/nsp#engineId`.
    return this.eio === 4 ? JSON.parse(reply.slice(`40${name},`.length)).sid : `${name}#${this.open.sid}`;
  }

  emit(nsp: string, ...args: unknown[]): void {
    this.send(`42${nsp},${JSON.stringify(args)}`);
  }

  /** Emits with an ack id; resolves with the ack's arguments. */
  async request(nsp: string, ...args: unknown[]): Promise<unknown[]> {
    const id = this.ackIds++;
    this.send(`42${nsp},${id}${JSON.stringify(args)}`);
    const prefix = `43${nsp},${id}[`;
    const reply = await this.next((f) => typeof f === 'string' && f.startsWith(prefix), `ack ${id}`);
    return JSON.parse((reply as string).slice(prefix.length - 1));
  }

  /** The arguments of the next event `name` on `nsp`. */
  async nextEvent(nsp: string, name: string): Promise<unknown[]> {
    const prefix = `42${nsp},`;
    const frame = (await this.next((f) => typeof f === 'string' && f.startsWith(`${prefix}[${JSON.stringify(name)}`), `${name} on ${nsp}`)) as string;
    return JSON.parse(frame.slice(prefix.length)).slice(1);
  }

  /** Every event `name` on `nsp` received so far. */
  events(nsp: string, name: string): unknown[][] {
    const prefix = `42${nsp},[${JSON.stringify(name)}`;
    return this.frames
      .filter((f): f is string => typeof f === 'string' && f.startsWith(prefix))
      .map((f) => JSON.parse(f.slice(`42${nsp},`.length)).slice(1));
  }

  /** Resolves with the close code; fails if the server has not closed the connection in time. */
  async expectClosed(timeout = 2000): Promise<number> {
    let timer: NodeJS.Timeout | undefined;
    try {
      return await Promise.race([
        this.closed,
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`the server did not close the connection in ${timeout} ms`)), timeout);
        }),
      ]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** A polite WebSocket close handshake. */
  close(): void {
    this.ws.close();
  }

  /** Drops the TCP connection without a close frame. */
  terminate(): void {
    this.ws.terminate();
  }

  /** Drops the TCP connection with a reset (RST), as a crashed peer or a middlebox would. */
  reset(): void {
    this.tcp().resetAndDestroy();
  }

  /** Stops reading from the TCP connection: the server's writes pile up in its buffers. */
  stopReading(): void {
    this.tcp().pause();
  }

  // ws keeps the TCP socket private; only these tests need to reach it.
  private tcp(): NetSocket {
    return (this.ws as unknown as { _socket: NetSocket })._socket;
  }
}

/** An HTTP response's status and body text. */
export interface HttpReply {
  status: number;
  text: string;
}

/**
 * One HTTP request on a connection of its own (no keep-alive, so that no connection outlives the
 * request, as the leak checks need). A string body is sent as `text/plain;charset=UTF-8`, as
 * browsers send polling payloads.
 */
export function httpRequest(port: number, method: string, path: string, body?: string): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const headers = body === undefined ? {} : { 'content-type': 'text/plain;charset=UTF-8' };
    const request = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers }, (response) => {
      let text = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => (text += chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
    });
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * One Engine.IO long-polling session (EIO=4, or EIO=3 with base64 framing), driven request by
 * request: each POST and each poll is its own HTTP request and connection.
 */
export class RawPolling {
  private constructor(
    readonly port: number,
    readonly eio: EngineVersion,
    readonly sid: string,
  ) {}

  /** Performs the polling handshake; fails unless it is answered 200 with a session id. */
  static async open(port: number, eio: EngineVersion = 4): Promise<RawPolling> {
    const handshake = await httpRequest(port, 'GET', `/socket.io/?EIO=${eio}&transport=polling${eio === 3 ? '&b64=1' : ''}`);
    const sid = /"sid":"([^"]+)"/.exec(handshake.text)?.[1];
    if (handshake.status !== 200 || !sid) throw new Error(`polling handshake failed: ${handshake.status} ${handshake.text}`);
    return new RawPolling(port, eio, sid);
  }

  /** The session's request path (with its query), for requests written by hand. */
  get path(): string {
    return `/socket.io/?EIO=${this.eio}&transport=polling&sid=${this.sid}${this.eio === 3 ? '&b64=1' : ''}`;
  }

  /** One packet as the request body carries it: v3 payloads prefix each packet with its length. */
  encode(packet: string): string {
    return this.eio === 3 ? `${packet.length}:${packet}` : packet;
  }

  /** POSTs one packet; the server answers `ok` when it took it. */
  post(packet: string): Promise<HttpReply> {
    return httpRequest(this.port, 'POST', this.path, this.encode(packet));
  }

  /** One poll: what the server had waiting (or, if nothing, what comes first). */
  poll(): Promise<HttpReply> {
    return httpRequest(this.port, 'GET', this.path);
  }
}
