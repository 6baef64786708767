import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { optionsTable } from '../src/options';

describe('README', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '..', 'README.md'), 'utf8');

  it('lists every option exactly as the code defines it (npm run docs:options rewrites it)', () => {
    const block = /<!-- options:start -->\n([\s\S]*?)\n<!-- options:end -->/.exec(readme);
    expect(block?.[1]).toBe(optionsTable());
  });

  it('shows the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });
});
