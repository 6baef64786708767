#!/usr/bin/env node
// Rewrites the README's generated tables (options, refusals) from the code that defines them.
const fs = require('node:fs');
const path = require('node:path');
const { optionsTable } = require('../dist/options');
const { refusalsTable } = require('../dist/errors');

const readme = path.resolve(__dirname, '..', 'README.md');
let text = fs.readFileSync(readme, 'utf8');
for (const [name, table] of [['options', optionsTable()], ['refusals', refusalsTable()]]) {
  const pattern = new RegExp(`(<!-- ${name}:start -->\\n)[\\s\\S]*?(<!-- ${name}:end -->)`);
  if (!pattern.test(text)) throw new Error(`README.md has no ${name} markers`);
  text = text.replace(pattern, `$1${table}\n$2`);
}
fs.writeFileSync(readme, text);
