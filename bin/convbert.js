#!/usr/bin/env node
'use strict';
// The `convbert` command: the bundled CLI (`npm run build` writes dist/cli.js).
const path = require('node:path');
const fs = require('node:fs');
const bundle = path.join(__dirname, '..', 'dist', 'cli.js');
if (!fs.existsSync(bundle)) {
  process.stderr.write('convbert: dist/cli.js is missing; run `npm run build` in the ConvBERT Studio folder first.\n');
  process.exit(2);
}
require(bundle)
  .runCli(process.argv.slice(2))
  .then((code) => {
    process.exitCode = code;
  });
