import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import selfsigned from 'selfsigned';
import type { TlsMaterial } from './http-server';
import type { Logger } from './logger';

/**
 * Reads the key pair for `--https`, or, when either file is missing, generates a self-signed one
 * for localhost, 127.0.0.1 and this host's name and writes it there (the key readable by its
 * owner alone), as the 2018 service did.
 * @throws {Error} when only one of the two files exists.
 */
export async function loadOrCreateCertificate(keyPath: string, certPath: string, logger: Logger): Promise<TlsMaterial> {
  const haveKey = fs.existsSync(keyPath);
  const haveCert = fs.existsSync(certPath);
  if (haveKey && haveCert) return { key: fs.readFileSync(keyPath), cert: fs.readFileSync(certPath) };
  // Never overwrite half of a pair: the key present may be a real one.
  if (haveKey || haveCert) {
    throw new Error(`--https: ${haveKey ? certPath : keyPath} is missing but ${haveKey ? keyPath : certPath} exists; supply both or neither`);
  }
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
