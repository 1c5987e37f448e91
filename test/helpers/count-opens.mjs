// Preloaded into the CLI under test (NODE_OPTIONS=--import=…): records every file opened below
// $BATCHUP_TEST_WATCH_DIR and writes the list to $BATCHUP_TEST_OPENS_OUT at exit. It lets a test
// prove that an incremental run only stats the tree and never reads file content.
import fs from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const dir = process.env.BATCHUP_TEST_WATCH_DIR;
const out = process.env.BATCHUP_TEST_OPENS_OUT;
if (dir && out) {
  const opened = [];
  const note = (p) => {
    const s = typeof p === 'string' ? p : p instanceof URL ? p.pathname : Buffer.isBuffer(p) ? p.toString() : '';
    if (s.startsWith(dir)) opened.push(s);
  };
  const wrap = (obj, name) => {
    const orig = obj[name];
    obj[name] = function (path, ...rest) {
      note(path);
      return orig.call(this, path, ...rest);
    };
  };
  for (const name of ['open', 'openSync', 'readFile', 'readFileSync', 'createReadStream']) wrap(fs, name);
  for (const name of ['open', 'readFile']) wrap(fs.promises, name);
  syncBuiltinESMExports();
  process.on('exit', () => fs.writeFileSync(out, JSON.stringify(opened)));
}
