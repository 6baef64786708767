/**
 * Where the CLI tells the container's health check how to reach it. The port and scheme may come
 * from flags (`docker run IMAGE --https -p 8443`) that a separate HEALTHCHECK process cannot see,
 * so the running server writes the URL it actually listens on and the check reads it back.
 */
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** The file holding the listening node's URL, in the temporary directory (`TMPDIR`, `/tmp`). */
export function listenUrlFile(): string {
  return path.join(os.tmpdir(), 'websocket-service.url');
}

/** The URL a process on the same host reaches `address` at: a wildcard bind is probed on loopback. */
export function localUrl(address: AddressInfo, secure: boolean): string {
  const host =
    address.family === 'IPv6'
      ? `[${address.address === '::' ? '::1' : address.address}]`
      : address.address === '0.0.0.0'
        ? '127.0.0.1'
        : address.address;
  return `${secure ? 'https' : 'http'}://${host}:${address.port}`;
}

/**
 * Writes `url` to `file` whole (a reader never sees half of it) and returns the function that
 * removes it again, unless another process has written its own URL there since.
 */
export function publishListenUrl(file: string, url: string): () => void {
  const partial = `${file}.${process.pid}`;
  fs.writeFileSync(partial, `${url}\n`, { mode: 0o644 });
  fs.renameSync(partial, file);
  return () => {
    try {
      if (fs.readFileSync(file, 'utf8').trim() === url) fs.unlinkSync(file);
    } catch {
      // Already gone: nothing to withdraw.
    }
  };
}

/** The URL in `file`, or undefined when there is none (no server listening, or it could not write). */
export function readListenUrl(file: string): URL | undefined {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8').trim();
  } catch {
    return undefined;
  }
  return URL.canParse(text) ? new URL(text) : undefined;
}
