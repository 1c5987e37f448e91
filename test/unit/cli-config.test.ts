import { mkdtemp, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BatchupError } from '../../src/core/errors.js';
import { configDir, configFilePath, memoryConfig, openConfig, readConfigFile, resolveSettings, type ConfigKey } from '../../src/cli/config.js';

const noFile = async () => {
  throw Object.assign(new Error('nope'), { code: 'ENOENT' });
};

async function resolveWith(
  flags: Parameters<typeof resolveSettings>[0],
  env: NodeJS.ProcessEnv,
  config: Partial<Record<ConfigKey, string>>,
  readTokenFile: (p: string) => Promise<{ text: string; mode?: number }> = noFile,
) {
  return resolveSettings(flags, { env, config: memoryConfig(config), readTokenFile, checkConfigMode: false });
}

describe('resolveSettings precedence: flags > env > config > defaults', () => {
  it('uses defaults when nothing is set', async () => {
    const s = await resolveWith({}, {}, {});
    expect(s).toMatchObject({ provider: 'bach', concurrency: 4, mode: 'auto', manifestPath: 'batchup-manifest.json' });
    expect(s.endpoint).toBeUndefined();
    expect(s.auth).toEqual({});
    expect(s.sources.provider).toBe('default');
  });

  it('config beats defaults, env beats config, flags beat env', async () => {
    const config = { endpoint: 'https://config.example/api', concurrency: '2', mode: 'sync', manifest: 'c.json' };
    const env = { BATCHUP_ENDPOINT: 'https://env.example/api', BATCHUP_CONCURRENCY: '3' };
    let s = await resolveWith({}, {}, config);
    expect(s).toMatchObject({ endpoint: 'https://config.example/api', concurrency: 2, mode: 'sync', manifestPath: 'c.json' });
    s = await resolveWith({}, env, config);
    expect(s).toMatchObject({ endpoint: 'https://env.example/api', concurrency: 3, mode: 'sync' });
    expect(s.sources).toMatchObject({ endpoint: 'env', concurrency: 'env', mode: 'config' });
    s = await resolveWith({ endpoint: 'https://flag.example/api/', concurrency: '8', mode: 'async' }, env, config);
    expect(s).toMatchObject({ endpoint: 'https://flag.example/api', concurrency: 8, mode: 'async' });
    expect(s.sources).toMatchObject({ endpoint: 'flag', concurrency: 'flag', mode: 'flag' });
  });

  it('empty env values do not override the config', async () => {
    const s = await resolveWith({}, { BATCHUP_ENDPOINT: '' }, { endpoint: 'https://c.example' });
    expect(s.endpoint).toBe('https://c.example');
  });

  it('token: --token-file > BATCHUP_TOKEN > config', async () => {
    const read = async () => ({ text: '  file-token-123\n', mode: 0o100600 });
    expect((await resolveWith({}, {}, { token: 'config-token' })).auth).toEqual({ token: 'config-token' });
    expect((await resolveWith({}, { BATCHUP_TOKEN: 'env-token' }, { token: 'config-token' })).auth).toEqual({ token: 'env-token' });
    const s = await resolveWith({ tokenFile: '/t' }, { BATCHUP_TOKEN: 'env-token' }, {}, read);
    expect(s.auth).toEqual({ token: 'file-token-123' });
    expect(s.warnings).toEqual([]);
  });

  it('warns when the token file is group/world readable', async () => {
    const s = await resolveWith({ tokenFile: '/t' }, {}, {}, async () => ({ text: 'tok-1234', mode: 0o100644 }));
    if (process.platform !== 'win32') expect(s.warnings.join('\n')).toMatch(/readable by group\/others.*chmod 600 \/t/);
    expect(s.warnings.join('\n')).not.toContain('tok-1234');
  });

  it('an unreadable or empty token file is a usage error', async () => {
    await expect(resolveWith({ tokenFile: '/missing' }, {}, {})).rejects.toMatchObject({ code: 'USAGE' });
    await expect(resolveWith({ tokenFile: '/t' }, {}, {}, async () => ({ text: ' \n' }))).rejects.toMatchObject({ code: 'USAGE' });
  });

  it('key pair vs token: the higher-precedence source wins, a tie goes to the token', async () => {
    const env = { BATCHUP_ACCESS_KEY: 'ak-env', BATCHUP_SECRET_KEY: 'sk-env-secret' };
    expect((await resolveWith({}, env, { token: 'config-token' })).auth).toEqual({ accessKey: 'ak-env', secretKey: 'sk-env-secret' });
    expect((await resolveWith({}, { ...env, BATCHUP_TOKEN: 'env-token' }, {})).auth).toEqual({ token: 'env-token' });
    // Halves from different layers still form a pair.
    expect((await resolveWith({}, { BATCHUP_ACCESS_KEY: 'ak' }, { 'secret-key': 'sk-config' })).auth).toEqual({
      accessKey: 'ak',
      secretKey: 'sk-config',
    });
  });

  it('half a key pair without a token is a config error naming what to set', async () => {
    const err = await resolveWith({}, { BATCHUP_ACCESS_KEY: 'ak' }, {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BatchupError);
    expect((err as BatchupError).code).toBe('CONFIG');
    expect((err as BatchupError).message).toContain('BATCHUP_SECRET_KEY');
  });

  it('bad values: usage error from a flag, config error from env/config, naming the source', async () => {
    await expect(resolveWith({ concurrency: '0' }, {}, {})).rejects.toMatchObject({ code: 'USAGE' });
    await expect(resolveWith({}, { BATCHUP_CONCURRENCY: 'lots' }, {})).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining('BATCHUP_CONCURRENCY'),
    });
    await expect(resolveWith({}, {}, { mode: 'turbo' })).rejects.toMatchObject({
      code: 'CONFIG',
      message: expect.stringContaining('config key "mode"'),
    });
    await expect(resolveWith({ endpoint: 'ftp://x' }, {}, {})).rejects.toMatchObject({ code: 'USAGE' });
    await expect(resolveWith({ endpoint: 'https://u:p@x.example' }, {}, {})).rejects.toMatchObject({ code: 'USAGE' });
  });
});

describe('openConfig (conf store)', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'batchup-config-test-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lives in BATCHUP_CONFIG_DIR and writes mode 0600', async () => {
    const store = await openConfig({ BATCHUP_CONFIG_DIR: dir });
    expect(store.path.startsWith(dir)).toBe(true);
    store.set('token', 'secret-token-value');
    store.set('endpoint', 'https://x.example');
    if (process.platform !== 'win32') expect((await stat(store.path)).mode & 0o777).toBe(0o600);
    expect(store.get('token')).toBe('secret-token-value');
    expect(store.all()).toEqual({ token: 'secret-token-value', endpoint: 'https://x.example' });
    store.delete('token');
    expect(store.get('token')).toBeUndefined();
  });

  it('tightens a loose existing file on write', async () => {
    const store = await openConfig({ BATCHUP_CONFIG_DIR: dir });
    await writeFile(store.path, '{"endpoint":"https://a.example"}');
    await chmod(store.path, 0o644);
    store.set('mode', 'sync');
    if (process.platform !== 'win32') expect((await stat(store.path)).mode & 0o777).toBe(0o600);
  });

  it('conf and the direct reader agree on the file', async () => {
    const store = await openConfig({ BATCHUP_CONFIG_DIR: dir });
    expect(store.path).toBe(configFilePath({ BATCHUP_CONFIG_DIR: dir }));
    store.set('endpoint', 'https://same.example');
    expect(readConfigFile({ BATCHUP_CONFIG_DIR: dir }).get('endpoint')).toBe('https://same.example');
    expect(readConfigFile({ BATCHUP_CONFIG_DIR: join(dir, 'missing') }).get('endpoint')).toBeUndefined();
  });

  it('default dir follows the OS conventions', () => {
    expect(configDir({ HOME: '/h' }, 'linux')).toBe('/h/.config/batchup');
    expect(configDir({ HOME: '/h', XDG_CONFIG_HOME: '/x' }, 'linux')).toBe('/x/batchup');
    expect(configDir({ HOME: '/h' }, 'darwin')).toBe('/h/Library/Preferences/batchup');
  });

  it('warns when a secret comes from a loose config file', async () => {
    const store = await openConfig({ BATCHUP_CONFIG_DIR: dir });
    await writeFile(store.path, '{"token":"tok-from-file"}');
    await chmod(store.path, 0o644);
    const s = await resolveSettings({}, { env: { BATCHUP_CONFIG_DIR: dir } });
    expect(s.auth.token).toBe('tok-from-file');
    if (process.platform !== 'win32') expect(s.warnings.join('\n')).toContain('chmod 600');
  });

  it('a malformed file is a config error', async () => {
    const path = configFilePath({ BATCHUP_CONFIG_DIR: dir });
    await writeFile(path, '{not json');
    expect(() => readConfigFile({ BATCHUP_CONFIG_DIR: dir })).toThrow(/cannot read the config file/);
    await expect(openConfig({ BATCHUP_CONFIG_DIR: dir }).then((s) => s.get('endpoint'))).rejects.toBeInstanceOf(BatchupError);
  });
});
