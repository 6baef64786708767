import WebSocket from 'ws';

/**
 * A Socket.IO v4 client (Engine.IO v4 over WebSocket only) written straight on `ws`: the
 * handshake, one namespace connection, ping/pong, acknowledgements and raw event frames. It does
 * per message only what a benchmark needs (no JSON parsing of events), so that one generator
 * process can keep up with a server on the other core.
 */
export interface WireOptions {
  port: number;
  /** Socket.IO path of the server. */
  path?: string;
  /** Namespace to connect, e.g. `/layout`. */
  nsp: string;
  host?: string;
  /** How long the handshake and namespace connection may take. */
  timeoutMs?: number;
}

const PING = 0x32; // '2'
const MESSAGE = 0x34; // '4'
const EVENT = 0x32; // '2' (Socket.IO EVENT after the Engine.IO '4')
const ACK = 0x33; // '3'
const CONNECT = 0x30; // '0'

export class WireClient {
  /** Called with each incoming EVENT frame of the namespace, undecoded. */
  onEvent: ((frame: Buffer) => void) | undefined;
  /** Called once when the connection ends, whatever the reason. */
  onClose: ((reason: string) => void) | undefined;
  private readonly acks = new Map<number, (frame: Buffer) => void>();
  private nextAck = 1;
  private readonly prefix: string;
  private closed = false;

  private constructor(private readonly ws: WebSocket, readonly nsp: string) {
    this.prefix = nsp === '/' ? '' : `${nsp},`;
  }

  static connect(options: WireOptions): Promise<WireClient> {
    const { port, path = '/socket.io', nsp, host = '127.0.0.1', timeoutMs = 10_000 } = options;
    const url = `ws://${host}:${port}${path}/?EIO=4&transport=websocket`;
    const ws = new WebSocket(url, { perMessageDeflate: false, skipUTF8Validation: true, maxPayload: 16 * 1024 * 1024 });
    const client = new WireClient(ws, nsp);
    return new Promise<WireClient>((resolve, reject) => {
      let stage: 'open' | 'namespace' | 'ready' = 'open';
      const timer = setTimeout(() => fail(new Error(`handshake with ${url} ${nsp} timed out in stage ${stage}`)), timeoutMs);
      const fail = (error: Error) => {
        clearTimeout(timer);
        if (stage !== 'ready') {
          stage = 'ready';
          ws.terminate();
          reject(error);
        }
      };
      ws.on('error', fail);
      ws.on('close', () => {
        if (stage !== 'ready') fail(new Error(`connection to ${url} closed during ${stage}`));
        client.ended('closed');
      });
      ws.on('message', (data: Buffer) => {
        const first = data[0];
        if (first === MESSAGE) {
          const type = data[1];
          if (type === EVENT) {
            client.onEvent?.(data);
            return;
          }
          if (type === ACK) {
            client.ack(data);
            return;
          }
          if (type === CONNECT && stage === 'namespace') {
            stage = 'ready';
            clearTimeout(timer);
            resolve(client);
            return;
          }
          if (type === 0x34 /* CONNECT_ERROR */) fail(new Error(`namespace ${nsp} refused: ${data.toString()}`));
          return;
        }
        if (first === PING && data.length === 1) {
          ws.send('3');
          return;
        }
        if (first === CONNECT && stage === 'open') {
          stage = 'namespace';
          ws.send(`40${client.prefix}`);
        }
      });
    });
  }

  private ack(frame: Buffer) {
    // 43/nsp,ID[...]
    let i = 2 + this.prefix.length;
    let id = 0;
    for (; i < frame.length; i++) {
      const c = frame[i];
      if (c < 0x30 || c > 0x39) break;
      id = id * 10 + (c - 0x30);
    }
    const resolve = this.acks.get(id);
    if (resolve) {
      this.acks.delete(id);
      resolve(frame);
    }
  }

  private ended(reason: string) {
    if (this.closed) return;
    this.closed = true;
    this.onClose?.(reason);
  }

  get isOpen(): boolean {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  /** Bytes queued in this client, not yet written to the kernel. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount;
  }

  /** Sends `["event", ...args]` without an ack. */
  emit(event: string, ...args: unknown[]): void {
    this.ws.send(`42${this.prefix}${JSON.stringify([event, ...args])}`);
  }

  /** Sends a frame built by {@link WireClient.frame}. */
  sendFrame(frame: string | Buffer): void {
    this.ws.send(frame);
  }

  /** The frame `emit()` would send, to build once and send many times. */
  frame(event: string, ...args: unknown[]): string {
    return `42${this.prefix}${JSON.stringify([event, ...args])}`;
  }

  /** Emits with an acknowledgement; resolves with the raw ack frame. */
  request(event: string, args: unknown[], timeoutMs = 10_000): Promise<Buffer> {
    const id = this.nextAck++;
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.acks.delete(id);
        reject(new Error(`no ack for ${event} in ${timeoutMs} ms`));
      }, timeoutMs);
      this.acks.set(id, (frame) => {
        clearTimeout(timer);
        resolve(frame);
      });
      this.ws.send(`42${this.prefix}${id}${JSON.stringify([event, ...args])}`);
    });
  }

  close(): void {
    this.ws.close();
    this.ended('closed by client');
  }

  terminate(): void {
    this.ws.terminate();
    this.ended('terminated by client');
  }
}
