// The Node floor of a nightly rerun: list a tree and stat every file (size and mtime, as
// `find -printf '%s %T@'` does) with the same calls batchup's walk uses (readdirSync with file
// types, statSync), and nothing else. Usage: node node-walk.js TREE
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

let files = 0;
let sum = 0; // read both fields, as find prints both
const walk = (dir) => {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name);
    if (e.isDirectory()) walk(path);
    else if (e.isFile()) {
      const s = statSync(path);
      sum += s.size + s.mtimeMs;
      files++;
    }
  }
};
walk(process.argv[2]);
if (!(files && sum)) throw new Error(`no files under ${process.argv[2]}`);
