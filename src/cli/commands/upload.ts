/**
 * `batchup upload [paths...]`: resolve settings (flags > env > config > defaults), optionally start
 * an in-process sandbox, run the pipeline with a renderer attached, and map the outcome to an exit
 * code.
 *
 * --sandbox: a sandbox server starts on a free loopback port; the endpoint points at it and, when
 * no credentials are configured, a random throwaway token is used (and accepted by the sandbox).
 * Its data lives in a fresh temp dir (the sandbox's default) that is removed when the run ends — the
 * sandbox dies with the process, so its result URLs only download while it runs anyway. For URLs
 * that keep working, run `batchup serve --data DIR` in another terminal and pass its endpoint.
 */
import { randomBytes } from 'node:crypto';
import { join, resolve } from 'node:path';
import { Option } from 'commander';
import { toBatchupError, usageError } from '../../core/errors.js';
import type { BatchupEvent, RunSummary } from '../../core/events.js';
import { checkCredentialTransport } from '../../core/http.js';
import { isLoopbackHost } from '../../core/loopback.js';
import { parseByteSize } from '../../core/memory.js';
import { DEFAULTS, type AuthOptions, type UploadOptions } from '../../core/options.js';
import { durationFlag, parseIntInRange } from '../../core/parse.js';
import type { AnyProvider, FlagSpec, FlagValues } from '../../core/provider.js';
import { hasCredentials, missingEndpointError, resolveSettings, validateValue, type ResolvedSettings } from '../config.js';
import { flagValues } from '../flags.js';
import { EXIT, exitCodeForError, exitCodeForSummary, hintFor } from '../exit-codes.js';
import type { CliContext } from '../context.js';
import { addSecret } from '../redact.js';
import { createRenderer, type Renderer } from '../render/index.js';
import { RunOutputs } from '../run-outputs.js';
import { type RunExtras, type RunFlags, nothingToDo, runFlagsFrom, shardManifestPath } from '../run-flags.js';
import { shardLabel } from '../../core/shard.js';

export interface UploadFlags extends RunFlags {
  urls?: string;
  fromManifest?: string[];
  include?: string[];
  exclude?: string[];
  ignoreFile?: string;
  provider?: string;
  endpoint?: string;
  tokenFile?: string;
  manifest?: string;
  sandbox?: boolean;
  dryRun?: boolean;
  download?: string;
  mode?: string;
  concurrency?: string;
  batchId?: string;
  nameTemplate?: string;
  maxRetries?: string;
  maxMemory?: string;
  batchSize?: string;
  state?: string;
  force?: boolean;
  refreshBefore?: string;
  prune?: boolean;
  maxDuration?: string;
  timeout?: string;
  allowInsecureHttp?: boolean;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  progress?: boolean;
}

/**
 * Values of the chosen provider's own flags (flag > env), keyed as the provider declared them.
 * Flags that belong only to other providers are reported so the caller can warn.
 */
export function providerOptionsFrom(
  flags: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  mine: readonly FlagSpec[],
  all: readonly FlagSpec[] = mine,
): { options: FlagValues; foreign: string[] } {
  const mineFlags = new Set(mine.map((f) => f.flags));
  // A `--no-x` flag holds `true` (commander's default) until it is typed: only `false` means given.
  const given = (f: FlagSpec) => {
    const o = new Option(f.flags);
    const v = flags[o.attributeName()];
    return v !== undefined && !(o.negate && v === true);
  };
  const foreign = all.filter((f) => !mineFlags.has(f.flags) && given(f));
  return { options: flagValues(mine, flags, env), foreign: [...new Set(foreign.map((f) => new Option(f.flags).long ?? f.flags))] };
}

export const MAX_RETRIES_LIMIT = 100;
export const MAX_TIMEOUT_SECONDS = 86_400;

/** Flag checks that need no I/O (numbers, enums, combinations). Throws USAGE errors. */
export function checkUploadFlags(
  paths: string[],
  f: UploadFlags,
): { maxRetries: number; timeoutMs: number; maxBatchFiles?: number; refreshBeforeMs?: number; maxDurationMs?: number } {
  if (paths.length === 0 && !f.urls && !f.fromManifest?.length) {
    throw usageError('nothing to upload: give PATHS, --urls FILE or --from-manifest FILE');
  }
  if (f.sandbox && f.endpoint) {
    throw usageError('--sandbox and --endpoint cannot be combined (--sandbox sets the endpoint)');
  }
  if (f.mode !== undefined) validateValue('mode', f.mode, '--mode', 'usage');
  if (f.concurrency !== undefined) validateValue('concurrency', f.concurrency, '--concurrency', 'usage');
  if (f.endpoint !== undefined) validateValue('endpoint', f.endpoint, '--endpoint', 'usage');
  if (f.provider !== undefined) validateValue('provider', f.provider, '--provider', 'usage');
  if (f.batchId !== undefined && !/^[A-Za-z0-9._-]{1,128}$/.test(f.batchId)) {
    throw usageError(`--batch-id must be 1-128 letters, digits, '.', '_' or '-', got "${f.batchId}"`);
  }
  if (f.nameTemplate !== undefined && f.nameTemplate.trim() === '') throw usageError('--name-template is empty');
  const maxRetries = f.maxRetries === undefined ? DEFAULTS.maxRetries : parseIntInRange(f.maxRetries, 0, MAX_RETRIES_LIMIT, '--max-retries');
  const timeoutMs = f.timeout === undefined ? DEFAULTS.timeoutMs : durationFlag(f.timeout, '--timeout', { min: 1 });
  if (timeoutMs > MAX_TIMEOUT_SECONDS * 1000) throw usageError(`--timeout is at most ${MAX_TIMEOUT_SECONDS / 3600} h, got "${f.timeout}"`);
  if (f.urls === '-' && f.fromManifest?.includes('-')) throw usageError("only one input can read stdin ('-')");
  const maxBatchFiles = f.batchSize === undefined ? undefined : parseIntInRange(f.batchSize, 1, 100_000, '--batch-size');
  const refreshBeforeMs = f.refreshBefore === undefined ? undefined : durationFlag(f.refreshBefore, '--refresh-before', { min: 0 });
  const maxDurationMs = f.maxDuration === undefined ? undefined : durationFlag(f.maxDuration, '--max-duration');
  return { maxRetries, timeoutMs, maxBatchFiles, refreshBeforeMs, maxDurationMs };
}

/** Endpoint the sandbox serves a provider at: its origin plus the path the provider declares. */
export function sandboxEndpoint(provider: Pick<AnyProvider, 'sandboxPath'>, origin: string): string {
  return origin.replace(/\/+$/, '') + provider.sandboxPath;
}

/** What the run left for after its exit code is known (the log's last line, the step summary). */
interface After {
  outputs?: RunOutputs;
}

export async function runUploadCommand(paths: string[], flags: UploadFlags & Record<string, unknown>, ctx: CliContext): Promise<number> {
  const after: After = {};
  const code = await uploadCommand(paths, flags, ctx, after);
  after.outputs?.end(code);
  return code;
}

async function uploadCommand(paths: string[], flags: UploadFlags & Record<string, unknown>, ctx: CliContext, after: After): Promise<number> {
  let renderer: Renderer = await createRenderer(
    { json: flags.json, quiet: flags.quiet, verbose: flags.verbose, progress: flags.progress },
    { stdout: ctx.stdout, stderr: ctx.stderr },
    ctx.env,
  );
  ctx.announce = (line) => renderer.notice(line);
  ctx.onForceExit(() => renderer.close());

  const fail = (err: unknown): number => {
    const e = toBatchupError(err);
    const code = ctx.signal.aborted && e.code !== 'AUTH' ? EXIT.INTERRUPTED : exitCodeForError(e);
    renderer.close();
    renderer.error({ code: e.code, message: e.message, hint: hintFor(e) }, code);
    if (e.code === 'INTERNAL' && ctx.verbose) {
      const stack = (e.cause instanceof Error ? e.cause.stack : undefined) ?? e.stack;
      if (stack) ctx.stderr.write(`${stack}\n`);
    }
    ctx.errorShown = true;
    return code;
  };

  let sandbox: { url: string; bachEndpoint: string; dataDir: string; close(): Promise<void> } | undefined;
  let lastSummary: RunSummary | undefined;
  const stats = { plannedFiles: 0, authFailures: 0 };

  let extras: RunExtras = {};
  try {
    extras = runFlagsFrom(flags, ctx.env);
    renderer = after.outputs = new RunOutputs(renderer, {
      log: extras.log && { ...extras.log, path: resolve(ctx.cwd, extras.log.path) },
      verbose: flags.verbose,
      banner: `batchup ${process.argv.slice(2).join(' ')} (cwd ${ctx.cwd})`,
      github: { env: ctx.env, cwd: ctx.cwd, stderr: ctx.stderr, shard: extras.shard && shardLabel(extras.shard) },
    });
    const { maxRetries, timeoutMs, maxBatchFiles, refreshBeforeMs, maxDurationMs } = checkUploadFlags(paths, flags);
    const maxMemory = flags.maxMemory === undefined ? undefined : parseByteSize(String(flags.maxMemory), '--max-memory');
    const { providerDeclarations, providerNames, loadProvider } = await import('../../providers/registry.js');
    const settings: ResolvedSettings = await resolveSettings(
      {
        provider: flags.provider,
        endpoint: flags.endpoint,
        tokenFile: flags.tokenFile,
        manifest: flags.manifest,
        concurrency: flags.concurrency,
        mode: flags.mode,
      },
      { env: ctx.env },
    );
    addSecret(settings.auth.token);
    addSecret(settings.auth.secretKey);
    for (const w of settings.warnings) renderer.warn(w);

    if (!providerNames().includes(settings.provider)) {
      throw usageError(`unknown provider '${settings.provider}' (known: ${providerNames().join(', ')})`);
    }
    const provider = await loadProvider(settings.provider);
    const { options: values, foreign } = providerOptionsFrom(
      flags,
      ctx.env,
      provider.flags,
      providerDeclarations().flatMap((p) => p.flags),
    );
    for (const f of foreign) renderer.warn(`${f} does not apply to provider ${settings.provider}; ignored`);
    // Every usage and configuration check happens here, before the first file is read.
    const providerOptions: unknown = provider.options(values, { batchId: flags.batchId, maxMemory, sandbox: flags.sandbox });

    let endpoint = settings.endpoint;
    let auth: AuthOptions = settings.auth;
    const dryRun = Boolean(flags.dryRun);
    const now = clockFrom(ctx.env.BATCHUP_NOW);

    if (flags.sandbox && !dryRun) {
      if (!hasCredentials(auth)) {
        auth = { token: `sandbox-${randomBytes(16).toString('hex')}` };
        addSecret(auth.token);
      }
      const { startSandbox } = await import('../../sandbox/index.js');
      sandbox = await startSandbox({
        host: '127.0.0.1',
        port: 0,
        token: auth.token,
        accessKey: auth.accessKey,
        secretKey: auth.secretKey,
      });
      endpoint = sandboxEndpoint(provider, sandbox.url);
      renderer.info(`sandbox: ${endpoint} (data in ${sandbox.dataDir}, removed at exit)`);
    } else if (!dryRun) {
      endpoint ??= provider.defaultEndpoint || undefined;
      if (!endpoint) throw missingEndpointError(settings.provider);
    }
    const credentials = dryRun ? undefined : provider.credentials(auth, endpoint!, now);
    if (credentials && endpoint) {
      checkCredentialTransport(endpoint, flags.allowInsecureHttp);
      const u = new URL(endpoint);
      if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
        renderer.warn(`--allow-insecure-http: credentials and files go to ${u.host} over plain http, unencrypted`);
      }
    }

    const opts: UploadOptions = {
      paths,
      urlsFile: flags.urls,
      fromManifests: flags.fromManifest,
      include: flags.include,
      exclude: flags.exclude,
      ignoreFile: flags.ignoreFile,
      endpoint: endpoint ?? provider.defaultEndpoint ?? '',
      credentials,
      allowInsecureHttp: flags.allowInsecureHttp,
      manifestPath: resolve(
        ctx.cwd,
        extras.shard && settings.sources.manifest === 'default' ? shardManifestPath(settings.manifestPath, extras.shard) : settings.manifestPath,
      ),
      mode: settings.mode,
      concurrency: settings.concurrency,
      dryRun,
      batchId: flags.batchId,
      nameTemplate: flags.nameTemplate,
      maxRetries,
      maxBatchFiles,
      // The in-process sandbox forgets everything at exit, so its journal lives (and dies) with it.
      stateDir: flags.state ?? (sandbox ? join(sandbox.dataDir, 'client-state') : undefined),
      force: flags.force,
      refreshBeforeMs,
      prune: flags.prune,
      // Only --json and --verbose show the entries of skipped inputs (and the log file, when verbose).
      quietSkips: renderer.kind !== 'json' && !flags.verbose,
      maxDurationMs,
      maxMemory,
      timeoutMs,
      pollTimeoutMs: DEFAULTS.pollTimeoutMs,
      pollIntervalMs: DEFAULTS.pollIntervalMs,
      pollMaxIntervalMs: DEFAULTS.pollMaxIntervalMs,
      cwd: ctx.cwd,
      downloadDir: flags.download,
      stdin: flags.urls === '-' || flags.fromManifest?.includes('-') ? ctx.stdin : undefined,
      shard: extras.shard,
      bandwidth: extras.bandwidth,
    };

    const emit = (e: BatchupEvent) => {
      if (e.type === 'summary') lastSummary = e.summary;
      if (e.type === 'plan') stats.plannedFiles += e.batches.reduce((n, b) => n + b.files, 0);
      if ((e.type === 'batch-failed' && e.code === 'AUTH') || (e.type === 'result' && e.entry.code === 'AUTH')) {
        stats.authFailures++;
      }
      try {
        renderer.event(e);
      } catch {
        // A rendering bug must never break an upload.
      }
    };

    renderer.start();
    const { runUpload } = await import('../../core/pipeline.js');
    const summary = await runUpload(provider, providerOptions, opts, emit, ctx.signal, now);
    renderer.finish(summary);
    if (extras.exitNothing !== undefined && nothingToDo(summary, stats.plannedFiles)) return extras.exitNothing;
    return exitCodeForSummary(summary, stats);
  } catch (err) {
    // A whole-run failure after the pipeline already summarised: show the summary, then the error.
    if (lastSummary && renderer.kind !== 'json') renderer.finish(lastSummary);
    return fail(err);
  } finally {
    renderer.close();
    if (sandbox) await sandbox.close().catch(() => {});
  }
}

/**
 * BATCHUP_NOW (ISO-8601 or epoch ms) shifts the run's clock to that moment, so URL expiry and
 * refresh can be tried without waiting 30 days. Unset: the real clock.
 */
export function clockFrom(value: string | undefined): () => number {
  if (!value) return Date.now;
  const at = /^\d+$/.test(value) ? Number(value) : Date.parse(value);
  if (Number.isNaN(at)) throw usageError(`BATCHUP_NOW must be an ISO-8601 date or epoch milliseconds, got "${value}"`);
  const offset = at - Date.now();
  return () => Date.now() + offset;
}
