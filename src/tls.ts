import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import type { TlsMaterial } from './http-server';
import type { Logger } from './logger';

/** A key pair that cannot be used: the message names the file and what is wrong with it. */
export class TlsFileError extends Error {
  override name = 'TlsFileError';
}

/** The bytes of `file`, or a {@link TlsFileError} naming the flag, the file and why it cannot be read. */
function readPem(flag: '--key' | '--cert', file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : (error as Error).message;
    throw new TlsFileError(`${flag} ${file}: ${why}`);
  }
}

/** Checks that `key` and `cert` parse as PEM and belong together, so that a bad pair fails at start, not at the first handshake. */
function checkPair(key: Buffer, cert: Buffer, keyPath: string, certPath: string): void {
  let privateKey: crypto.KeyObject;
  try {
    privateKey = crypto.createPrivateKey(key);
  } catch {
    throw new TlsFileError(`--key ${keyPath}: not a PEM private key (or one protected by a passphrase)`);
  }
  let certificate: crypto.X509Certificate;
  try {
    certificate = new crypto.X509Certificate(cert);
  } catch {
    throw new TlsFileError(`--cert ${certPath}: not a PEM certificate`);
  }
  if (!certificate.checkPrivateKey(privateKey)) throw new TlsFileError(`--cert ${certPath}: does not match the key in ${keyPath}`);
}

/**
 * Reads and checks the key pair for `--https`. With `generate` (the default `certs/` paths), a pair
 * missing altogether is generated, self-signed for localhost, 127.0.0.1 and this host's name, and
 * written there (the key readable by its owner alone), as the 2018 service did. Paths an operator
 * chose are never filled in: a typo there must stop the start, not serve a certificate nobody trusts.
 * @throws {TlsFileError} when a file is missing, unreadable, not PEM, or the two do not match.
 */
export async function loadOrCreateCertificate(keyPath: string, certPath: string, logger: Logger, { generate = false }: { generate?: boolean } = {}): Promise<TlsMaterial> {
  const haveKey = fs.existsSync(keyPath);
  const haveCert = fs.existsSync(certPath);
  if (generate && !haveKey && !haveCert) return createCertificate(keyPath, certPath, logger);
  // Never overwrite half of a pair: the key present may be a real one.
  if (generate && haveKey !== haveCert) {
    throw new TlsFileError(`--https: ${haveKey ? certPath : keyPath} is missing but ${haveKey ? keyPath : certPath} exists; supply both or neither`);
  }
  const key = readPem('--key', keyPath);
  const cert = readPem('--cert', certPath);
  checkPair(key, cert, keyPath, certPath);
  return { key, cert };
}

async function createCertificate(keyPath: string, certPath: string, logger: Logger): Promise<TlsMaterial> {
  const hostname = os.hostname();
  const altNames = [
    { type: 2 as const, value: 'localhost' },
    { type: 7 as const, ip: '127.0.0.1' },
    { type: 7 as const, ip: '::1' },
    ...(hostname && hostname !== 'localhost' ? [{ type: 2 as const, value: hostname }] : []),
  ];
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], {
    keySize: 2048,
    algorithm: 'sha256',
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames },
    ],
  });
  fs.mkdirSync(path.dirname(keyPath), { recursive: true });
  fs.mkdirSync(path.dirname(certPath), { recursive: true });
  fs.writeFileSync(keyPath, pems.private, { mode: 0o600 });
  fs.chmodSync(keyPath, 0o600);
  fs.writeFileSync(certPath, pems.cert);
  logger.info({ key: keyPath, cert: certPath }, `Generated a self-signed certificate for localhost, 127.0.0.1 and ${hostname}`);
  return { key: pems.private, cert: pems.cert };
}
