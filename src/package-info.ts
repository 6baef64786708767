import fs from 'node:fs';
import path from 'node:path';

/** This package's name and version, as its package.json says. */
export interface PackageInfo {
  name: string;
  version: string;
}

/**
 * Read at run time rather than imported: package.json sits beside both `src/` and `dist/`, outside
 * the compiler's root, and a published copy must report its own version.
 */
export const PACKAGE: PackageInfo = (() => {
  const { name, version } = JSON.parse(fs.readFileSync(path.resolve(__dirname, '..', 'package.json'), 'utf8')) as PackageInfo;
  return { name, version };
})();
