#!/usr/bin/env node
// The `ftune` CLI: compiled TypeScript lives in out/ (npm run build) or dist/ (packaged).
'use strict';
const path = require('path');
const fs = require('fs');
const bundled = path.join(__dirname, '..', 'dist', 'ftune.js');
const compiled = path.join(__dirname, '..', 'out', 'src', 'cli', 'main.js');
require(fs.existsSync(compiled) ? compiled : bundled).main(process.argv.slice(2));
