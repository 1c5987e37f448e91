/**
 * What a start loads (every module is start-up time a short run pays): the built CLI, run with a
 * preload that lists the Node modules loaded by the time the process exits.
 */
import { execa } from 'execa';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writePngs } from '../../src/devtools/generate.js';
import { BIN, cleanEnv, serve, tempDir, type ServeHandle } from '../helpers/cli.js';

const TOKEN = 'tok-startup-5e1f';
let sandbox: ServeHandle;
let dir: string;

beforeAll(async () => {
  sandbox = await serve(['--token', TOKEN, '--process-ms', '0']);
  dir = await tempDir('batchup-startup-');
  await writePngs(join(dir, 'imgs'), 3);
  await writeFile(
    join(dir, 'modules.cjs'),
    "const names = () => process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')).map((m) => m.slice(13));\n" +
      "process.on('exit', () => process.stderr.write('\\nMODULES ' + names().join(' ') + '\\n'));\n",
  );
});
afterAll(async () => {
  await sandbox?.stop();
});

/** Runs the CLI; its exit code and the Node modules it loaded. */
async function modulesOf(args: string[]) {
  const r = await execa('node', ['--require', join(dir, 'modules.cjs'), BIN, ...args], {
    reject: false,
    cwd: dir,
    env: cleanEnv({ BATCHUP_TOKEN: TOKEN }),
    extendEnv: false,
  });
  return { code: r.exitCode, modules: new Set(/^MODULES (.*)$/m.exec(r.stderr)?.[1]?.split(' ')) };
}

describe('start-up', () => {
  it('--version loads no provider, HTTP client or subprocess module', async () => {
    const { code, modules } = await modulesOf(['--version']);
    expect(code).toBe(0);
    for (const m of ['child_process', 'http', 'http2', 'tls', 'zlib']) expect(modules.has(m), m).toBe(false);
  });

  it('an upload loads neither child_process (commander) nor http2 and tls (undici, plain http), and uploads', async () => {
    const { code, modules } = await modulesOf(['upload', 'imgs', '--endpoint', sandbox.bach, '--manifest', 'm.json', '--json']);
    expect(code).toBe(0);
    expect(modules.has('net')).toBe(true);
    for (const m of ['child_process', 'dgram', 'http2', 'tls']) expect(modules.has(m), m).toBe(false);
  });
});
