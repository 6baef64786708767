import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

/**
 * The lowest version of each production package with every published advisory fixed. The npm
 * audit service is not reachable from every build machine, so the lockfile is checked here.
 */
const FLOORS: Record<string, string> = {
  'socket.io': '4.6.2', // CVE-2024-38355: unhandled "error" event
  'socket.io-parser': '4.2.4', // CVE-2023-32695: attachment placeholders (insufficient validation)
  'engine.io': '6.4.2', // CVE-2022-41940, CVE-2023-31125: crafted packets crash the server
  ws: '8.17.1', // CVE-2024-37890: DoS through many HTTP headers
  express: '4.20.0', // CVE-2024-43796, CVE-2024-29041
  'body-parser': '1.20.3', // CVE-2024-45590: DoS with url encoding
  'path-to-regexp': '0.1.12', // CVE-2024-45296, CVE-2024-52798: ReDoS
  cookie: '0.7.0', // CVE-2024-47764
  send: '0.19.0', // CVE-2024-43799
  'serve-static': '1.16.0', // CVE-2024-43800
};

function atLeast(version: string, floor: string): boolean {
  const a = version.split('.').map(Number);
  const b = floor.split('.').map(Number);
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] > b[i];
  return true;
}

describe('production dependencies', () => {
  const lock = JSON.parse(fs.readFileSync(path.resolve(__dirname, '../..', 'package-lock.json'), 'utf8')) as {
    packages: Record<string, { version?: string; dev?: boolean }>;
  };
  const production = Object.entries(lock.packages)
    .filter(([key, entry]) => key.startsWith('node_modules/') && !entry.dev && entry.version)
    .map(([key, entry]) => ({ name: key.replace(/^.*node_modules\//, ''), version: entry.version! }));

  it.each(Object.entries(FLOORS))('resolve %s to %s or later everywhere', (name, floor) => {
    const copies = production.filter((entry) => entry.name === name);
    expect(copies.length).toBeGreaterThan(0);
    for (const copy of copies) expect(atLeast(copy.version, floor), `${name}@${copy.version}`).toBe(true);
  });
});
