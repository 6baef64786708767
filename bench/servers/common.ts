import http from 'node:http';

/** `--name value` pairs of a baseline server's command line. */
export function argsOf(argv: string[]): Map<string, string> {
  const args = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    if (argv[i].startsWith('--')) args.set(argv[i].slice(2), argv[i + 1] ?? '');
  }
  return args;
}

/** Parses a `/layout` or `/bus` request the way the service does: a JSON string or the object. */
export function parsePayload(payload: unknown): Record<string, unknown> | undefined {
  let value = payload;
  if (typeof payload === 'string') {
    try {
      value = JSON.parse(payload);
    } catch {
      return undefined;
    }
  }
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

function reply(res: http.ServerResponse, status: number, text: string) {
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/**
 * The minimal HTTP side of a baseline: `GET /healthcheck` and `POST /bus-message/:room` (JSON
 * body, published with `publish`), with plain `http` and no framework.
 */
export function minimalHttp(publish: (room: string, message: unknown) => void): http.RequestListener {
  return (req, res) => {
    const url = req.url ?? '';
    if (req.method === 'GET' && url === '/healthcheck') return reply(res, 200, 'OK');
    const match = /^\/bus-message\/([^/?]+)$/.exec(url);
    if (req.method !== 'POST' || !match) return reply(res, 404, 'Not found');
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      let message: unknown;
      try {
        message = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        return reply(res, 400, 'Body is not valid JSON');
      }
      publish(decodeURIComponent(match[1]), message);
      reply(res, 200, 'OK');
    });
  };
}

/** Exits cleanly on SIGTERM/SIGINT, so that `--cpu-prof` writes its profile. */
export function exitOnSignal(close: () => void): void {
  const stop = () => {
    close();
    process.exit(0);
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}
