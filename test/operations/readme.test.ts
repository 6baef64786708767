import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { refusalsTable } from '../../src/errors';
import { optionsTable } from '../../src/options';

describe('README', () => {
  const readme = fs.readFileSync(path.resolve(__dirname, '../..', 'README.md'), 'utf8');
  const block = (name: string) => new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)\\n<!-- ${name}:end -->`).exec(readme)?.[1];

  it('lists every option exactly as the code defines it (npm run docs:options rewrites it)', () => {
    expect(block('options')).toBe(optionsTable());
  });

  it('lists every refusal exactly as src/errors.ts catalogues it (npm run docs:options rewrites it)', () => {
    expect(block('refusals')).toBe(refusalsTable());
  });

  it('shows the two set-up commands', () => {
    expect(readme).toContain('npm ci && npm start');
    expect(readme).toContain('npm test');
  });
});
