/**
 * Settings: flags > env (BATCHUP_*) > config file > defaults.
 *
 * The config file is a `conf` store (JSON) at the OS config dir (`~/.config/batchup/config.json`
 * on Linux), or in `$BATCHUP_CONFIG_DIR` when set (tests point it at a temp dir). It is written
 * with mode 0600 and re-chmodded after every write, because it may hold a token.
 *
 * | key          | env                  | flag             | default                 |
 * |--------------|----------------------|------------------|-------------------------|
 * | endpoint     | BATCHUP_ENDPOINT     | --endpoint URL   | (none; required)        |
 * | provider     | BATCHUP_PROVIDER     | --provider NAME  | bach                    |
 * | token        | BATCHUP_TOKEN        | --token-file F   | (none)                  |
 * | access-key   | BATCHUP_ACCESS_KEY   | —                | (none)                  |
 * | secret-key   | BATCHUP_SECRET_KEY   | —                | (none)                  |
 * | concurrency  | BATCHUP_CONCURRENCY  | --concurrency N  | 4                       |
 * | mode         | BATCHUP_MODE         | --mode M         | auto                    |
 * | manifest     | BATCHUP_MANIFEST     | --manifest PATH  | batchup-manifest.json   |
 *
 * There is deliberately no `--token VALUE` flag on upload: argv is visible to other users (ps).
 * Credentials: whichever of token / key pair comes from the higher-precedence source is used; on a
 * tie the token wins.
 *
 * Why `conf` is only loaded by `batchup config`: conf → atomically → when-exit hooks SIGINT/SIGTERM
 * at import time and re-sends the signal to the process after its cleanup, which would turn one
 * Ctrl-C into two (= "exit now") during an upload or `serve`. So the directory is computed here
 * (same rules as conf's env-paths, projectSuffix ''), handed to conf as `cwd`, and `upload` reads
 * the JSON file directly (readConfigFile) without loading conf at all.
 */
import { chmodSync, existsSync, readFileSync, statSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { BatchupError, configError, usageError } from '../core/errors.js';
import { DEFAULTS, type AuthOptions, type ModeChoice } from '../core/options.js';
import { parseIntInRange } from '../core/parse.js';

export const CONFIG_KEYS = ['endpoint', 'provider', 'token', 'access-key', 'secret-key', 'concurrency', 'mode', 'manifest'] as const;
export type ConfigKey = (typeof CONFIG_KEYS)[number];

/** Keys whose values are never printed. */
export const SECRET_KEYS: ReadonlySet<ConfigKey> = new Set<ConfigKey>(['token', 'secret-key']);

export const ENV_NAMES: Record<ConfigKey, string> = {
  endpoint: 'BATCHUP_ENDPOINT',
  provider: 'BATCHUP_PROVIDER',
  token: 'BATCHUP_TOKEN',
  'access-key': 'BATCHUP_ACCESS_KEY',
  'secret-key': 'BATCHUP_SECRET_KEY',
  concurrency: 'BATCHUP_CONCURRENCY',
  mode: 'BATCHUP_MODE',
  manifest: 'BATCHUP_MANIFEST',
};

export const CONFIG_DIR_ENV = 'BATCHUP_CONFIG_DIR';
export const DEFAULT_PROVIDER = 'bach';
export const MODES: readonly ModeChoice[] = ['auto', 'sync', 'async'];
export const MAX_CONCURRENCY = 64;

export function isConfigKey(key: string): key is ConfigKey {
  return (CONFIG_KEYS as readonly string[]).includes(key);
}

/** The subset of a config store resolveSettings needs; tests pass a plain object-backed one. */
export interface ConfigReader {
  readonly path: string;
  get(key: ConfigKey): string | undefined;
}

export interface ConfigStore extends ConfigReader {
  set(key: ConfigKey, value: string): void;
  delete(key: ConfigKey): void;
  all(): Partial<Record<ConfigKey, string>>;
}

export const PROJECT_NAME = 'batchup';
export const CONFIG_FILE_NAME = 'config.json';

/** The config directory: $BATCHUP_CONFIG_DIR, else the OS config dir (as env-paths computes it). */
export function configDir(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  const override = env[CONFIG_DIR_ENV];
  if (override) return override;
  const home = env.HOME && platform !== 'win32' ? env.HOME : homedir();
  if (platform === 'darwin') return join(home, 'Library', 'Preferences', PROJECT_NAME);
  if (platform === 'win32') return join(env.APPDATA || join(home, 'AppData', 'Roaming'), PROJECT_NAME, 'Config');
  return join(env.XDG_CONFIG_HOME || join(home, '.config'), PROJECT_NAME);
}

export function configFilePath(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), CONFIG_FILE_NAME);
}

function parseConfigJson(text: string, path: string): Record<string, unknown> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw configError(`cannot read the config file ${path}: ${(err as Error).message} (fix it or remove it)`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw configError(`cannot read the config file ${path}: not a JSON object`);
  }
  return data as Record<string, unknown>;
}

/** Read-only view of the config file, without loading conf; a missing file is an empty config. */
export function readConfigFile(env: NodeJS.ProcessEnv = process.env): ConfigReader {
  const path = configFilePath(env);
  let data: Record<string, unknown> = {};
  try {
    data = parseConfigJson(readFileSync(path, 'utf8'), path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      throw err instanceof BatchupError ? err : configError(`cannot read the config file ${path}: ${code ?? (err as Error).message}`);
    }
  }
  return {
    path,
    get(key) {
      const v = data[key];
      return v === undefined || v === null ? undefined : String(v);
    },
  };
}

/** Open the conf store for writing (`batchup config` only — see the note at the top). */
export async function openConfig(env: NodeJS.ProcessEnv = process.env): Promise<ConfigStore> {
  const { default: Conf } = await import('conf');
  let conf: InstanceType<typeof Conf<Record<string, unknown>>>;
  try {
    conf = new Conf<Record<string, unknown>>({
      projectName: PROJECT_NAME,
      projectSuffix: '',
      cwd: configDir(env),
      configName: CONFIG_FILE_NAME.replace(/\.json$/, ''),
      configFileMode: 0o600,
      accessPropertiesByDotNotation: false,
      clearInvalidConfig: false,
    });
  } catch (err) {
    throw configError(`cannot read the config file ${configFilePath(env)}: ${(err as Error).message}`);
  }
  const secure = () => {
    // conf passes the mode to the write, but an existing file keeps its old mode: force 0600.
    try {
      if (process.platform !== 'win32' && existsSync(conf.path)) chmodSync(conf.path, 0o600);
    } catch {
      /* best effort */
    }
  };
  const read = (): Record<string, unknown> => {
    try {
      return conf.store;
    } catch (err) {
      throw configError(`cannot read the config file ${conf.path}: ${(err as Error).message}`);
    }
  };
  return {
    path: conf.path,
    get(key) {
      const v = read()[key];
      return v === undefined || v === null ? undefined : String(v);
    },
    set(key, value) {
      conf.set(key, value);
      secure();
    },
    delete(key) {
      conf.delete(key);
      secure();
    },
    all() {
      const out: Partial<Record<ConfigKey, string>> = {};
      const store = read();
      for (const key of CONFIG_KEYS) {
        const v = store[key];
        if (v !== undefined && v !== null) out[key] = String(v);
      }
      return out;
    },
  };
}

/** A read-only store over a plain object (tests, and `--no-config` style callers). */
export function memoryConfig(values: Partial<Record<ConfigKey, string>>, path = '(memory)'): ConfigReader {
  return { path, get: (key) => values[key] };
}

export type Source = 'flag' | 'env' | 'config' | 'default';

/** Where each value came from, for error messages ("from BATCHUP_CONCURRENCY"). */
export function describeSource(key: ConfigKey, source: Source, configPath?: string): string {
  switch (source) {
    case 'flag':
      return key === 'token' ? '--token-file' : `--${key}`;
    case 'env':
      return ENV_NAMES[key];
    case 'config':
      return `config key "${key}"${configPath ? ` (${configPath})` : ''}`;
    default:
      return 'the default';
  }
}

/** Check a value for a key; returns the normalised string or throws with `where` in the message. */
export function validateValue(key: ConfigKey, value: string, where: string, kind: 'usage' | 'config' = 'config'): string {
  const fail = (msg: string) => (kind === 'usage' ? usageError(msg) : configError(msg));
  const v = value.trim();
  if (v === '') throw fail(`${where}: empty value for ${key}`);
  switch (key) {
    case 'endpoint': {
      let url: URL;
      try {
        url = new URL(v);
      } catch {
        throw fail(`${where}: endpoint "${v}" is not a URL (e.g. https://api-gen-na.bach.art/api/vdr)`);
      }
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        throw fail(`${where}: endpoint must be http(s), got ${url.protocol}`);
      }
      if (url.username || url.password) {
        throw fail(`${where}: endpoint must not contain credentials; use a token instead`);
      }
      return v.replace(/\/+$/, '');
    }
    case 'provider':
      if (!/^[a-z][a-z0-9-]*$/.test(v)) throw fail(`${where}: provider "${v}" is not a provider name (e.g. bach)`);
      return v;
    case 'concurrency': {
      parseIntInRange(v, 1, MAX_CONCURRENCY, `${where}: concurrency`, kind);
      return v;
    }
    case 'mode':
      if (!(MODES as readonly string[]).includes(v)) throw fail(`${where}: mode must be one of ${MODES.join(', ')}, got "${v}"`);
      return v;
    default:
      return v;
  }
}

export interface SettingsFlags {
  provider?: string;
  endpoint?: string;
  tokenFile?: string;
  manifest?: string;
  concurrency?: string | number;
  mode?: string;
}

export interface ResolvedSettings {
  provider: string;
  endpoint?: string;
  auth: AuthOptions;
  concurrency: number;
  mode: ModeChoice;
  manifestPath: string;
  /** Where each setting came from. */
  sources: Partial<Record<ConfigKey, Source>>;
  configPath: string;
  /** Human warnings (loose file permissions, …), to print on stderr. */
  warnings: string[];
}

export interface ResolveContext {
  env?: NodeJS.ProcessEnv;
  config?: ConfigReader;
  /** Injected for tests; defaults to reading the file. */
  readTokenFile?: (path: string) => Promise<{ text: string; mode?: number }>;
  /** Check the config file's permissions (default: yes, when it holds a secret). */
  checkConfigMode?: boolean;
}

async function defaultReadTokenFile(path: string): Promise<{ text: string; mode?: number }> {
  const [text, st] = await Promise.all([readFile(path, 'utf8'), stat(path)]);
  return { text, mode: st.mode };
}

/** `true` when a POSIX mode lets group or others read (or write) the file. */
export function isLooseMode(mode: number | undefined): boolean {
  return process.platform !== 'win32' && mode !== undefined && (mode & 0o077) !== 0;
}

export async function resolveSettings(flags: SettingsFlags, ctx: ResolveContext = {}): Promise<ResolvedSettings> {
  const env = ctx.env ?? process.env;
  const config = ctx.config ?? readConfigFile(env);
  const sources: Partial<Record<ConfigKey, Source>> = {};
  const warnings: string[] = [];

  const pick = (key: ConfigKey, flagValue: string | number | undefined): { value?: string; source?: Source } => {
    if (flagValue !== undefined && flagValue !== null && String(flagValue) !== '') {
      return { value: String(flagValue), source: 'flag' };
    }
    const e = env[ENV_NAMES[key]];
    if (e !== undefined && e.trim() !== '') return { value: e, source: 'env' };
    const c = config.get(key);
    if (c !== undefined && c.trim() !== '') return { value: c, source: 'config' };
    return {};
  };
  const where = (key: ConfigKey, source: Source) => describeSource(key, source, config.path);
  const kindOf = (source: Source) => (source === 'flag' ? 'usage' : 'config') as 'usage' | 'config';

  const take = (key: ConfigKey, flagValue: string | number | undefined, dflt?: string): string | undefined => {
    const { value, source } = pick(key, flagValue);
    if (value === undefined || source === undefined) {
      if (dflt !== undefined) sources[key] = 'default';
      return dflt;
    }
    sources[key] = source;
    return validateValue(key, value, where(key, source), kindOf(source));
  };

  const provider = take('provider', flags.provider, DEFAULT_PROVIDER)!;
  const endpoint = take('endpoint', flags.endpoint);
  const mode = take('mode', flags.mode, 'auto') as ModeChoice;
  const manifestPath = take('manifest', flags.manifest, DEFAULTS.manifestPath)!;
  const concurrencyRaw = take('concurrency', flags.concurrency, String(DEFAULTS.concurrency))!;
  const concurrency = parseIntInRange(
    concurrencyRaw,
    1,
    MAX_CONCURRENCY,
    where('concurrency', sources.concurrency ?? 'default'),
    kindOf(sources.concurrency ?? 'default'),
  );

  // --- credentials -------------------------------------------------------------------------
  const rank: Record<Source, number> = { flag: 0, env: 1, config: 2, default: 3 };
  let token: string | undefined;
  let tokenSource: Source | undefined;
  if (flags.tokenFile) {
    const read = ctx.readTokenFile ?? defaultReadTokenFile;
    let file: { text: string; mode?: number };
    try {
      file = await read(flags.tokenFile);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      throw usageError(`cannot read --token-file ${flags.tokenFile}: ${code ?? (err as Error).message}`);
    }
    token = file.text.trim();
    if (!token) throw usageError(`--token-file ${flags.tokenFile} is empty`);
    if (isLooseMode(file.mode)) {
      warnings.push(
        `token file ${flags.tokenFile} is readable by group/others (mode ${((file.mode ?? 0) & 0o777).toString(8)}); run: chmod 600 ${flags.tokenFile}`,
      );
    }
    tokenSource = 'flag';
  } else {
    const t = pick('token', undefined);
    if (t.value !== undefined) {
      token = t.value.trim();
      tokenSource = t.source;
    }
  }
  const ak = pick('access-key', undefined);
  const sk = pick('secret-key', undefined);
  const accessKey = ak.value?.trim();
  const secretKey = sk.value?.trim();

  const auth: AuthOptions = {};
  const pairComplete = accessKey !== undefined && secretKey !== undefined;
  const pairRank = pairComplete ? Math.max(rank[ak.source!], rank[sk.source!]) : Infinity;
  const tokenRank = tokenSource ? rank[tokenSource] : Infinity;
  if (token !== undefined && tokenRank <= pairRank) {
    auth.token = token;
    sources.token = tokenSource;
  } else if (pairComplete) {
    auth.accessKey = accessKey;
    auth.secretKey = secretKey;
    sources['access-key'] = ak.source;
    sources['secret-key'] = sk.source;
  } else if (accessKey !== undefined || secretKey !== undefined) {
    // Half a key pair and no token: say exactly what is missing, at resolve time, since the
    // pair can never work.
    const have: ConfigKey = accessKey !== undefined ? 'access-key' : 'secret-key';
    const missing: ConfigKey = have === 'access-key' ? 'secret-key' : 'access-key';
    throw configError(
      `${where(have, (have === 'access-key' ? ak.source : sk.source)!)} is set but the ${missing} is not: ` +
        `set ${ENV_NAMES[missing]} or run \`batchup config set ${missing} -\``,
    );
  }

  // A config file holding a secret must not be readable by others.
  const secretFromConfig = sources.token === 'config' || sources['secret-key'] === 'config';
  if (secretFromConfig && ctx.checkConfigMode !== false) {
    try {
      const st = statSync(config.path);
      if (isLooseMode(st.mode)) {
        warnings.push(`config file ${config.path} is readable by group/others; run: chmod 600 ${config.path}`);
      }
    } catch {
      /* memory store or vanished file */
    }
  }

  return { provider, endpoint, auth, concurrency, mode, manifestPath, sources, configPath: config.path, warnings };
}

export function missingEndpointError(provider: string): BatchupError {
  return configError(
    `no endpoint for provider ${provider}: pass --endpoint URL, set ${ENV_NAMES.endpoint}, ` +
      'or run `batchup config set endpoint URL` (bach: https://api-gen-na.bach.art/api/vdr); or use --sandbox',
  );
}

export function hasCredentials(auth: AuthOptions): boolean {
  return Boolean(auth.token || (auth.accessKey && auth.secretKey));
}
