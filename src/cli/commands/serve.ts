/**
 * `batchup serve`: run the sandbox server until SIGINT/SIGTERM.
 * stdout line 1 is the base URL (origin) and nothing else is ever written to stdout, so scripts
 * and tests can read it: `url=$(batchup serve | head -1)`. Human lines go to stderr.
 */
import { randomInt } from 'node:crypto';
import { resolve } from 'node:path';
import { Option } from 'commander';
import { usageError } from '../../core/errors.js';
import { parseIntInRange, parsePositiveNumber } from '../../core/parse.js';
import { EXIT } from '../exit-codes.js';
import type { CliContext } from '../context.js';
import { addSecret, redact } from '../redact.js';
import { CDN_OPTIONS } from '../../sandbox/kit/cdn.js';
import { DEFAULT_FAULTS, FAULT_KINDS } from '../../sandbox/kit/faults.js';
import { OptionError, faultKindsOption, resolveOptions } from '../../sandbox/kit/options.js';
import type { ProtocolDefinition } from '../../sandbox/kit/protocol.js';
import { DEFAULT_PROTOCOLS } from '../../sandbox/protocols/index.js';
import type { SandboxOptions } from '../../sandbox/index.js';

/** The generic flags; each protocol's flags come under commander's attribute name of the flag (`--presign-ttl` → presignTtl). */
export interface ServeFlags {
  port?: string;
  host?: string;
  data?: string;
  faultRate?: string;
  faults?: string;
  seed?: string;
  retryAfter?: string;
  slowMs?: string;
  processMs?: string;
  cdnTtl?: string;
  accessKey?: string;
  secretKey?: string;
  token?: string;
  verbose?: boolean;
  [protocolFlag: string]: unknown;
}

export type SandboxStartOptions = SandboxOptions & { host: string; port: number };

const apiFaultKinds = faultKindsOption({ default: [...FAULT_KINDS], description: '', listed: FAULT_KINDS });

/** A protocol setting's flag text → value; its problems are usage errors. */
function parseFlag<T>(parse: (text: string, flag: string) => T, text: string, flag: string): T {
  try {
    return parse(text, flag);
  } catch (err) {
    if (err instanceof OptionError) throw usageError(err.message);
    throw err;
  }
}

/** Each protocol's settings given as flags (with what they imply), by protocol name; protocols without any are left out. */
function protocolOptionsFrom(f: ServeFlags, protocols: readonly ProtocolDefinition[]): Record<string, Record<string, unknown>> {
  const out: Record<string, Record<string, unknown>> = {};
  for (const p of protocols) {
    const given: Record<string, unknown> = {};
    const implied: Record<string, unknown> = {};
    for (const [key, spec] of Object.entries(
      p.options as Record<string, { flag?: string; parse(t: string, f: string): unknown; implies?: Record<string, unknown> }>,
    )) {
      if (!spec.flag) continue;
      const option = new Option(spec.flag);
      const text = f[option.attributeName()];
      if (text === undefined) continue;
      given[key] = parseFlag(spec.parse, String(text), option.long ?? spec.flag);
      Object.assign(implied, spec.implies);
    }
    for (const [k, v] of Object.entries(implied)) given[k] ??= v;
    if (Object.keys(given).length) out[p.name] = given;
  }
  return out;
}

/** Turn flags (+ env for credentials) into sandbox options; throws USAGE errors. Pure. */
export function serveOptions(
  f: ServeFlags,
  env: NodeJS.ProcessEnv,
  cwd: string,
  protocols: readonly ProtocolDefinition[] = DEFAULT_PROTOCOLS,
): { options: SandboxStartOptions; seedChosen: boolean } {
  const port = parseIntInRange(f.port ?? '0', 0, 65535, '--port');
  const host = (f.host ?? '127.0.0.1').trim();
  if (!host) throw usageError('--host is empty');
  const options: SandboxStartOptions = { host, port, protocols };
  if (f.data) options.dataDir = resolve(cwd, f.data);

  const faults: NonNullable<SandboxOptions['faults']> = {};
  if (f.faultRate !== undefined) faults.rate = parsePositiveNumber(f.faultRate, '--fault-rate', { allowZero: true, max: 1 });
  if (f.faults !== undefined) {
    faults.kinds = parseFlag(apiFaultKinds.parse, f.faults, '--faults');
    // Kinds without a rate would inject nothing: default to 10 % so `--faults 429` does something.
    faults.rate ??= 0.1;
  }
  if (f.seed !== undefined) faults.seed = parseIntInRange(f.seed, 0, 2 ** 32 - 1, '--seed');
  if (f.retryAfter !== undefined) faults.retryAfterSec = parsePositiveNumber(f.retryAfter, '--retry-after', { allowZero: true });
  if (f.slowMs !== undefined) faults.slowMs = parseIntInRange(f.slowMs, 0, 3_600_000, '--slow-ms');

  const protocolOptions = protocolOptionsFrom(f, protocols);
  if (Object.keys(protocolOptions).length) options.protocolOptions = protocolOptions;
  const protocolFaults = protocols.some((p) => protocolOptions[p.name] && p.injectsFaults?.(protocolOptions[p.name]!));
  let seedChosen = false;
  if (((faults.rate ?? 0) > 0 || protocolFaults) && faults.seed === undefined) {
    faults.seed = randomInt(0, 2 ** 31);
    seedChosen = true;
  }
  if (Object.keys(faults).length) options.faults = faults;
  if (f.processMs !== undefined) options.processMsPerImage = parsePositiveNumber(f.processMs, '--process-ms', { allowZero: true });
  if (f.cdnTtl !== undefined) options.cdnTtlSec = parseFlag(CDN_OPTIONS.ttlSec.parse, f.cdnTtl, '--cdn-ttl');

  const accessKey = f.accessKey ?? (env.BATCHUP_ACCESS_KEY || undefined);
  const secretKey = f.secretKey ?? (env.BATCHUP_SECRET_KEY || undefined);
  if ((accessKey === undefined) !== (secretKey === undefined)) {
    throw usageError('give both --access-key and --secret-key (or BATCHUP_ACCESS_KEY and BATCHUP_SECRET_KEY), or neither');
  }
  if (accessKey && secretKey) {
    options.accessKey = accessKey;
    options.secretKey = secretKey;
  }
  const token = f.token ?? (env.BATCHUP_TOKEN || undefined);
  if (token) options.token = token;
  return { options, seedChosen };
}

/** The banner's faults line, or undefined when no fault flag was given. */
export function faultsLine(options: SandboxStartOptions, seedChosen: boolean, protocols: readonly ProtocolDefinition[]): string | undefined {
  const given = options.protocolOptions ?? {};
  const parts = protocols
    .filter((p) => p.describeFaults && given[p.name])
    .map((p) => p.describeFaults!(resolveOptions(p.name, p.options, given[p.name] as Record<string, unknown>)));
  if (!options.faults && parts.length === 0) return undefined;
  const f = options.faults ?? {};
  return (
    [`faults: rate ${f.rate ?? 0}`, `kinds ${(f.kinds ?? DEFAULT_FAULTS.kinds).join(',')}`, ...parts, `seed ${f.seed ?? 'default'}`].join(', ') +
    (seedChosen ? ` (random; replay with --seed ${f.seed})` : '')
  );
}

function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export async function runServeCommand(flags: ServeFlags, ctx: CliContext, protocols: readonly ProtocolDefinition[] = DEFAULT_PROTOCOLS): Promise<number> {
  const { options, seedChosen } = serveOptions(flags, ctx.env, ctx.cwd, protocols);
  addSecret(options.token);
  addSecret(options.secretKey);
  const err = (line: string) => void ctx.stderr.write(`${redact(line)}\n`);
  if (flags.verbose) options.log = (line) => err(line);
  ctx.announce = () => err('stopping…');

  const { startSandbox } = await import('../../sandbox/index.js');
  const sb = await startSandbox(options);
  ctx.onForceExit(() => {
    /* the process is going away; the OS closes the socket */
  });
  ctx.stdout.write(`${sb.url}\n`);
  err(`sandbox listening on ${sb.url} — data: ${sb.dataDir}`);
  const width = Math.max(...sb.protocols.map((p) => p.name.length));
  for (const p of sb.protocols) err(`  ${`${p.name} endpoint:`.padEnd(width + 10)} ${p.endpoint}`);
  if (!isLoopbackHost(options.host)) err(`warning: listening on ${options.host}, not loopback: anyone who can reach it can use it`);
  const faults = faultsLine(options, seedChosen, protocols);
  if (faults) err(faults);
  if (options.cdnTtlSec) err(`cdn: URLs answer 410 Gone ${options.cdnTtlSec} s after their object was stored`);
  err('press Ctrl-C to stop');

  if (!ctx.signal.aborted) {
    await new Promise<void>((done) => ctx.signal.addEventListener('abort', () => done(), { once: true }));
  }
  await sb.close();
  err('sandbox stopped');
  return EXIT.OK;
}
