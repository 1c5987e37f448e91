/** Credentials never leak: not in stdout, stderr, the manifest, nor in error messages. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { cleanEnv, cli, serve, tempDir, type ServeHandle } from '../helpers/cli.js';
import { writePngs } from '../../src/devtools/generate.js';

const TOKEN = 'tok-SECRET-5e1d0c9b7a';
const ACCESS = 'ak-visible-id';
const SECRET = 'sk-SECRET-a8f3e2d1c0b9';
let tokenBox: ServeHandle;
let keyBox: ServeHandle;
let dir: string;

beforeAll(async () => {
  tokenBox = await serve(['--token', TOKEN, '--process-ms', '1']);
  keyBox = await serve(['--access-key', ACCESS, '--secret-key', SECRET, '--process-ms', '1']);
  dir = await tempDir();
  await writePngs(join(dir, 'imgs'), 4, { seedBase: 31_000 });
});
afterAll(async () => {
  await tokenBox?.stop();
  await keyBox?.stop();
});

function expectNoSecret(texts: string[]) {
  for (const t of texts) {
    expect(t).not.toContain(TOKEN);
    expect(t).not.toContain(SECRET);
  }
}

describe('secrets', () => {
  it('a token from env never appears in any output or the manifest (human, verbose, json)', async () => {
    const outputs: string[] = [];
    for (const flags of [['--verbose'], ['--json'], ['--no-progress']]) {
      const m = join(dir, `t${flags[0]}.json`);
      const r = await cli(['upload', join(dir, 'imgs'), '--manifest', m, ...flags], {
        env: cleanEnv({ BATCHUP_TOKEN: TOKEN, BATCHUP_ENDPOINT: tokenBox.bach }),
      });
      expect(r.exitCode).toBe(0);
      outputs.push(r.stdout, r.stderr, await readFile(m, 'utf8'));
    }
    expectNoSecret(outputs);
  });

  it('a token file works; a wrong token is an auth failure whose message does not echo it', async () => {
    const tokenFile = join(dir, 'token');
    await import('node:fs/promises').then((fs) => fs.writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 }));
    const ok = await cli(['upload', join(dir, 'imgs'), '--token-file', tokenFile, '--endpoint', tokenBox.bach, '--manifest', join(dir, 'tf.json')], {
      env: cleanEnv(),
    });
    expect(ok.exitCode).toBe(0);

    const wrong = 'tok-WRONG-77aa';
    const bad = await cli(['upload', join(dir, 'imgs'), '--endpoint', tokenBox.bach, '--manifest', join(dir, 'bad.json'), '--verbose'], {
      env: cleanEnv({ BATCHUP_TOKEN: wrong }),
    });
    expect(bad.exitCode).toBe(5);
    expect(bad.stderr).toMatch(/401|auth/i);
    expect(bad.stderr + bad.stdout).not.toContain(wrong);
    expect(await readFile(join(dir, 'bad.json'), 'utf8')).not.toContain(wrong);
    expectNoSecret([ok.stdout, ok.stderr]);
  });

  it('an AccessKey/SecretKey pair mints a JWT the sandbox accepts; the secret never shows', async () => {
    const m = join(dir, 'kp.json');
    const r = await cli(['upload', join(dir, 'imgs'), '--endpoint', keyBox.bach, '--manifest', m, '--json', '--verbose'], {
      env: cleanEnv({ BATCHUP_ACCESS_KEY: ACCESS, BATCHUP_SECRET_KEY: SECRET }),
    });
    expect(r.exitCode).toBe(0);
    expectNoSecret([r.stdout, r.stderr, await readFile(m, 'utf8')]);
    const bad = await cli(['upload', join(dir, 'imgs'), '--endpoint', keyBox.bach, '--manifest', join(dir, 'kp-bad.json')], {
      env: cleanEnv({ BATCHUP_ACCESS_KEY: ACCESS, BATCHUP_SECRET_KEY: 'sk-wrong-000' }),
    });
    expect(bad.exitCode).toBe(5);
    expect(bad.stderr).not.toContain('sk-wrong-000');
  });

  it('config keeps the token in a 0600 file and shows it masked', async () => {
    const cfgDir = await tempDir('batchup-cfg-');
    const env = cleanEnv({}, cfgDir);
    const set = await cli(['config', 'set', 'token', '-'], { env, input: TOKEN });
    expect(set.exitCode).toBe(0);
    const get = await cli(['config', 'get', 'token'], { env });
    const list = await cli(['config', 'list'], { env });
    expectNoSecret([set.stdout, set.stderr, get.stdout, get.stderr, list.stdout, list.stderr]);
    expect(get.stdout).toMatch(/\*{3,}/);
    const files = await readdir(cfgDir);
    const { stat } = await import('node:fs/promises');
    const cfgFile = join(cfgDir, files.find((f) => f.endsWith('.json'))!);
    expect((await stat(cfgFile)).mode & 0o777).toBe(0o600);
    // The stored token is used by upload.
    const r = await cli(['upload', join(dir, 'imgs'), '--endpoint', tokenBox.bach, '--manifest', join(dir, 'cfg.json')], { env });
    expect(r.exitCode).toBe(0);
    expectNoSecret([r.stdout, r.stderr]);
  });
});
