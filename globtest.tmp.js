const name = 'a'.repeat(+process.argv[3]);
const pat = '*a*a*a*a*a*a*a*a*b';
const lib = process.argv[2];
const t = Date.now();
let r;
if (lib==='picomatch') r = require('picomatch')(pat)(name);
else if (lib==='minimatch') r = require('minimatch').minimatch(name, pat);
else r = require('./out/src/core/datasets/glob.js').compilePathGlob(pat).test(name);
console.log(lib, r, Date.now()-t, 'ms', name.length);
