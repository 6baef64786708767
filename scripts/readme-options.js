#!/usr/bin/env node
// Rewrites the options table in README.md from the option table in the code (run after `npm run build`).
const fs = require('node:fs');
const path = require('node:path');
const { optionsTable } = require('../dist/options');

const readme = path.resolve(__dirname, '..', 'README.md');
const text = fs.readFileSync(readme, 'utf8');
const pattern = /(<!-- options:start -->\n)[\s\S]*?(<!-- options:end -->)/;
if (!pattern.test(text)) throw new Error('README.md has no <!-- options:start --> … <!-- options:end --> block');
fs.writeFileSync(readme, text.replace(pattern, `$1${optionsTable()}\n$2`));
