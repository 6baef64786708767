import net from 'node:net';

/**
 * A keep-alive HTTP/1.1 client on one TCP connection, one request at a time, that writes
 * pre-built requests and reads only the status and Content-Length of the answer: a fraction of
 * what `http.request` costs per request, so that the generator is not what limits the server.
 */
export class RawHttpConnection {
  private buffer: Buffer = Buffer.alloc(0);
  private pending: ((status: number) => void) | undefined;
  private broken: Error | undefined;

  private constructor(private readonly socket: net.Socket) {
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (error) => this.fail(error));
    socket.on('close', () => this.fail(new Error('connection closed')));
  }

  static open(port: number, host = '127.0.0.1'): Promise<RawHttpConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect(port, host);
      socket.once('connect', () => resolve(new RawHttpConnection(socket)));
      socket.once('error', reject);
    });
  }

  /** Sends one complete request; resolves with the status code of its answer. */
  request(raw: Buffer | string): Promise<number> {
    if (this.broken) return Promise.reject(this.broken);
    if (this.pending) return Promise.reject(new Error('one request at a time'));
    return new Promise<number>((resolve) => {
      this.pending = resolve;
      this.socket.write(raw);
    });
  }

  private onData(chunk: Buffer) {
    this.buffer = this.buffer.length === 0 ? chunk : Buffer.concat([this.buffer, chunk]);
    for (;;) {
      const end = this.buffer.indexOf('\r\n\r\n');
      if (end < 0) return;
      const head = this.buffer.toString('latin1', 0, end);
      const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
      const total = end + 4 + length;
      if (this.buffer.length < total) return;
      const status = Number(head.slice(9, 12));
      this.buffer = this.buffer.subarray(total);
      const resolve = this.pending;
      this.pending = undefined;
      resolve?.(status);
    }
  }

  private fail(error: Error) {
    this.broken ??= error;
    const resolve = this.pending;
    this.pending = undefined;
    resolve?.(0);
  }

  close(): void {
    this.socket.destroy();
  }
}

/** A `POST path` request with a JSON body, as bytes. */
export function postRequest(path: string, body: string): string {
  return `POST ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}
