/**
 * `batchup config set|get|list|unset|path`. Values go to a conf JSON file written with mode 0600.
 * Secrets (token, secret-key) are never printed: get/list show `******** (N chars)`.
 * `config set token -` reads the value from stdin so it stays out of shell history.
 */
import { usageError } from '../../core/errors.js';
import { CONFIG_KEYS, ENV_NAMES, SECRET_KEYS, configFilePath, isConfigKey, openConfig, validateValue, type ConfigKey } from '../config.js';
import { EXIT } from '../exit-codes.js';
import type { CliContext } from '../context.js';
import { addSecret, maskSecret, redact } from '../redact.js';

/** `config get` of a key that is not set (as `git config` does). */
const NOT_SET = 1;

function checkKey(key: string): ConfigKey {
  if (!isConfigKey(key)) throw usageError(`unknown config key '${key}' (keys: ${CONFIG_KEYS.join(', ')})`);
  return key;
}

export function showValue(key: ConfigKey, value: string): string {
  return SECRET_KEYS.has(key) ? maskSecret(value) : value;
}

async function readAll(stream: NodeJS.ReadableStream, signal: AbortSignal): Promise<string> {
  const chunks: Buffer[] = [];
  const ac = new AbortController();
  const stop = () => ac.abort();
  signal.addEventListener('abort', stop, { once: true });
  try {
    for await (const chunk of stream as AsyncIterable<Buffer | string>) {
      chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
      if (ac.signal.aborted) break;
    }
  } finally {
    signal.removeEventListener('abort', stop);
  }
  return Buffer.concat(chunks).toString('utf8');
}

export async function configSet(rawKey: string, rawValue: string, ctx: CliContext): Promise<number> {
  const key = checkKey(rawKey);
  let value = rawValue;
  if (rawValue === '-') {
    if (ctx.stdin.isTTY) ctx.stderr.write(`reading ${key} from stdin (end with Ctrl-D)…\n`);
    value = (await readAll(ctx.stdin, ctx.signal)).trim();
  }
  addSecret(SECRET_KEYS.has(key) ? value : undefined);
  const normalised = validateValue(key, value, `config ${key}`, 'usage');
  if (key === 'provider') {
    // The same rule as --provider: a name the registry knows.
    const { providerNames } = await import('../../providers/registry.js');
    if (!providerNames().includes(normalised)) throw usageError(`config provider: unknown provider '${normalised}' (known: ${providerNames().join(', ')})`);
  }
  const store = await openConfig(ctx.env);
  store.set(key, normalised);
  ctx.stderr.write(`${redact(`set ${key} = ${showValue(key, normalised)} in ${store.path}`)}\n`);
  if (SECRET_KEYS.has(key) && rawValue !== '-') {
    ctx.stderr.write(`tip: \`batchup config set ${key} -\` reads the value from stdin and keeps it out of shell history\n`);
  }
  return EXIT.OK;
}

export async function configGet(rawKey: string, ctx: CliContext): Promise<number> {
  const key = checkKey(rawKey);
  const store = await openConfig(ctx.env);
  const value = store.get(key);
  if (value === undefined) {
    // As `git config`: an unset key is exit 1, so scripts can tell it from an empty value.
    ctx.stderr.write(`${key} is not set\n`);
    return NOT_SET;
  }
  if (SECRET_KEYS.has(key)) addSecret(value);
  ctx.stdout.write(`${redact(showValue(key, value))}\n`);
  return EXIT.OK;
}

export async function configList(ctx: CliContext): Promise<number> {
  const store = await openConfig(ctx.env);
  const all = store.all();
  let shownAny = false;
  for (const key of CONFIG_KEYS) {
    const value = all[key];
    const envName = ENV_NAMES[key];
    const envSet = ctx.env[envName] !== undefined && ctx.env[envName] !== '';
    if (value === undefined && !envSet) continue;
    if (value !== undefined && SECRET_KEYS.has(key)) addSecret(value);
    const shown = value === undefined ? '(not set)' : showValue(key, value);
    ctx.stdout.write(`${redact(`${key} = ${shown}${envSet ? `  (overridden by ${envName})` : ''}`)}\n`);
    shownAny = true;
  }
  if (!shownAny) ctx.stderr.write(`nothing is set (config file: ${store.path}; see \`batchup config set --help\`)\n`);
  return EXIT.OK;
}

export async function configUnset(rawKey: string, ctx: CliContext): Promise<number> {
  const key = checkKey(rawKey);
  const store = await openConfig(ctx.env);
  store.delete(key);
  ctx.stderr.write(`unset ${key} in ${store.path}\n`);
  return EXIT.OK;
}

/** Where the file is (or would be): nothing is created. */
export async function configPath(ctx: CliContext): Promise<number> {
  ctx.stdout.write(`${configFilePath(ctx.env)}\n`);
  return EXIT.OK;
}
