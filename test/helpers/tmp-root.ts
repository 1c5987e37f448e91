/**
 * vitest globalSetup: every temp folder of the run (tests, the CLIs and sandboxes they start)
 * goes under one folder of its own, removed when the run ends — the suite makes thousands, and
 * an e2e test that fails or is killed must not leave them in the machine's /tmp.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function setup(): () => void {
  const root = mkdtempSync(join(tmpdir(), 'batchup-test-'));
  const before = process.env.TMPDIR;
  // Read by os.tmpdir() in the test workers and every process they spawn (execa passes env on).
  process.env.TMPDIR = root;
  return () => {
    if (before === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = before;
    rmSync(root, { recursive: true, force: true });
  };
}
