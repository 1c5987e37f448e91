/**
 * `batchup batches …` and `batchup runs …`: manage what a provider keeps on its side (aihub
 * batches, their files, delete jobs, app runs).
 *
 * Settings resolve like upload's (flag > env > config): the token from BATCHUP_TOKEN / config /
 * --token-file; the endpoint from --endpoint, else BATCHUP_ENDPOINT / config when the configured
 * provider is the one managed here (an endpoint configured for bach is not aihub's), else the
 * provider's default. Errors map through the one exit-code table (exit-codes.ts): a delete job or
 * a run that ends FAILED is a REMOTE error (6).
 *
 * Output: data on stdout — aligned columns for people, one JSON object per line with --json;
 * progress on stderr — an ora spinner on a TTY, otherwise a plain line per state change (nothing
 * with --json or --quiet).
 */
import { resolve } from 'node:path';
import ora, { type Ora } from 'ora';
import { BatchupError, usageError } from '../../core/errors.js';
import { Http } from '../../core/http.js';
import { writeJsonAtomic } from '../../core/manifest.js';
import { DEFAULTS } from '../../core/options.js';
import { withRetry, type RetryPolicy } from '../../core/retry.js';
import { AihubApi, type RunRequest } from '../../providers/aihub/api.js';
import { AIHUB_DEFAULT_ENDPOINT, JOB_DONE, appRef, checkIbContext, type BatchInfo, type JobStatus, type RunFileResult, type RunInfo } from '../../providers/aihub/contract.js';
import { allResults, listAllBatches, runDone, startRun, waitForJob, waitForRun } from '../../providers/aihub/ops.js';
import { missingCredentialsError, parseIntInRange, parsePositiveNumber, resolveSettings, validateValue } from '../config.js';
import { EXIT } from '../exit-codes.js';
import type { CliContext } from '../main.js';
import { addSecret, redact } from '../redact.js';
import { pickRendererKind } from '../render/index.js';
import { formatBytes, formatDuration } from '../render/format.js';

/** Providers with server-side batches to manage. */
export const MANAGED = ['aihub'] as const;

export interface ManageFlags {
  provider?: string;
  endpoint?: string;
  tokenFile?: string;
  ibContext?: string;
  maxRetries?: string;
  timeout?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  workspace?: string;
  username?: string;
  limit?: string;
  offset?: string;
  pageSize?: string;
  startToken?: string;
  file?: string[];
  wait?: boolean;
  pollTimeout?: string;
  batchId?: string;
  owner?: string;
  appVersion?: string;
  results?: string;
  fileOffset?: string;
}

export interface Connection {
  api: AihubApi;
  http: Http;
  endpoint: string;
  retry: Partial<RetryPolicy>;
}

/** Which endpoint and token a management command uses (see the module doc). Pure apart from reading a token file. */
export async function connectionSettings(
  f: ManageFlags,
  env: NodeJS.ProcessEnv,
): Promise<{ provider: string; endpoint: string; token: string; ibContext?: string }> {
  if (f.provider !== undefined) validateValue('provider', f.provider, '--provider', 'usage');
  if (f.endpoint !== undefined) validateValue('endpoint', f.endpoint, '--endpoint', 'usage');
  const s = await resolveSettings({ provider: f.provider, endpoint: f.endpoint, tokenFile: f.tokenFile }, { env });
  const explicit = s.sources.provider === 'flag';
  if (explicit && !(MANAGED as readonly string[]).includes(s.provider)) {
    throw usageError(`batch management is available for ${MANAGED.join(', ')}, not ${s.provider}`);
  }
  const provider = (MANAGED as readonly string[]).includes(s.provider) ? s.provider : MANAGED[0];
  // An endpoint from env/config belongs to the configured provider; use it only when that is this one.
  const endpoint = s.sources.endpoint === 'flag' || s.provider === provider ? s.endpoint ?? AIHUB_DEFAULT_ENDPOINT : AIHUB_DEFAULT_ENDPOINT;
  const token = s.auth.token;
  if (!token) throw missingCredentialsError(provider);
  const ibContext = f.ibContext ?? (env.BATCHUP_IB_CONTEXT || undefined);
  if (ibContext !== undefined) checkIbContext(ibContext, f.ibContext !== undefined ? '--ib-context' : 'BATCHUP_IB_CONTEXT');
  return { provider, endpoint, token, ibContext };
}

export async function runManage(name: string, args: string[], f: ManageFlags, ctx: CliContext): Promise<number> {
  const maxRetries = f.maxRetries === undefined ? DEFAULTS.maxRetries : parseIntInRange(f.maxRetries, 0, 100, '--max-retries');
  const timeoutMs = f.timeout === undefined ? DEFAULTS.timeoutMs : Math.round(parsePositiveNumber(f.timeout, '--timeout (seconds)', { max: 86_400 }) * 1000);
  const conn = await connectionSettings(f, ctx.env);
  addSecret(conn.token);
  const http = new Http({ timeoutMs, connections: 4 });
  const out = new Output(ctx, f);
  const c: Connection = {
    api: new AihubApi({ http, endpoint: conn.endpoint, token: conn.token, ibContext: conn.ibContext }),
    http,
    endpoint: conn.endpoint,
    retry: { maxRetries },
  };
  try {
    const fn = COMMANDS[name];
    if (!fn) throw new BatchupError('INTERNAL', `unknown management command ${name}`);
    return await fn(c, args, f, ctx, out);
  } finally {
    out.stop();
    await http.close().catch(() => undefined);
  }
}

type Handler = (c: Connection, args: string[], f: ManageFlags, ctx: CliContext, out: Output) => Promise<number>;

const batchIdArg = (raw: string | undefined, what = 'batch id'): string => {
  const v = (raw ?? '').trim();
  if (!/^\d+$/.test(v)) throw usageError(`${what} must be a batch number, got "${raw ?? ''}"`);
  return v;
};

const waiting = (f: ManageFlags, ctx: CliContext, c: Connection, out: Output) => ({
  signal: ctx.signal,
  retry: c.retry,
  intervalMs: DEFAULTS.pollIntervalMs,
  maxMs: DEFAULTS.pollMaxIntervalMs,
  timeoutMs: f.pollTimeout === undefined ? DEFAULTS.pollTimeoutMs : Math.round(parsePositiveNumber(f.pollTimeout, '--poll-timeout (seconds)') * 1000),
  onRetry: out.retryNote,
});

const COMMANDS: Record<string, Handler> = {
  async 'batches.list'(c, _args, f, ctx, out) {
    const onePage = f.limit !== undefined || f.offset !== undefined;
    const q = { workspace: f.workspace, username: f.username };
    let list: BatchInfo[];
    let next: number | undefined;
    if (onePage) {
      const limit = f.limit === undefined ? undefined : parseIntInRange(f.limit, 1, 100_000, '--limit');
      const offset = f.offset === undefined ? 0 : parseIntInRange(f.offset, 0, Number.MAX_SAFE_INTEGER, '--offset');
      list = await withRetry(() => c.api.listBatches({ ...q, limit, offset }, ctx.signal), { policy: c.retry, signal: ctx.signal, onRetry: out.retryNote });
      if (limit !== undefined && list.length === limit) next = offset + limit;
    } else {
      list = await listAllBatches(c.api, q, { signal: ctx.signal, retry: c.retry, onRetry: out.retryNote });
    }
    out.data({ type: 'batches', batches: list, ...(next !== undefined ? { next_offset: next } : {}) }, () => [
      ...table(['ID', 'NAME', 'WORKSPACE', 'OWNER', 'CREATED'], list.map((b) => [String(b.id), b.name, b.workspace ?? '', b.batch_owner ?? '', isoOf(b.created_at_ms)])),
      `${list.length} batch${list.length === 1 ? '' : 'es'}${next !== undefined ? ` (more: --offset ${next})` : ''}`,
    ]);
    return EXIT.OK;
  },

  async 'batches.show'(c, args, _f, ctx, out) {
    const id = batchIdArg(args[0]);
    const b = await withRetry(() => c.api.getBatch(id, ctx.signal), { policy: c.retry, signal: ctx.signal, onRetry: out.retryNote });
    if (!b) throw new BatchupError('NOT_FOUND', `aihub batch ${id} does not exist, or denied access`, { status: 404, retryable: false });
    out.data({ type: 'batch', batch: b }, () => Object.entries(b).map(([k, v]) => `${k}: ${k.endsWith('_ms') ? `${isoOf(v as number)} (${String(v)})` : String(v)}`));
    return EXIT.OK;
  },

  async 'batches.create'(c, args, f, ctx, out) {
    const name = args[0] ?? '';
    if (!name.trim()) throw usageError('the batch name is empty');
    // Not retried blindly: see createBatch in ops.ts for how a lost answer is resolved.
    const { createBatch } = await import('../../providers/aihub/ops.js');
    const { id } = await createBatch(c.api, name, f.workspace, { signal: ctx.signal, retry: c.retry, onRetry: out.retryNote });
    out.data({ type: 'batch-created', id, name, workspace: f.workspace ?? null }, () => [id]);
    return EXIT.OK;
  },

  async 'batches.files'(c, args, f, ctx, out) {
    const id = batchIdArg(args[0]);
    const onePage = f.pageSize !== undefined || f.startToken !== undefined;
    const pageSize = f.pageSize === undefined ? undefined : parseIntInRange(f.pageSize, 1, 100_000, '--page-size');
    let nodes: { name: string; size: number }[] = [];
    let next: string | null | undefined;
    if (onePage) {
      const page = await withRetry(() => c.api.listFiles(id, { pageSize, startToken: f.startToken }, ctx.signal), { policy: c.retry, signal: ctx.signal, onRetry: out.retryNote });
      nodes = page.nodes;
      next = page.has_more ? page.next_page_token : null;
    } else {
      let token: string | undefined;
      for (;;) {
        const t = token;
        const page = await withRetry(() => c.api.listFiles(id, { startToken: t }, ctx.signal), { policy: c.retry, signal: ctx.signal, onRetry: out.retryNote });
        nodes.push(...page.nodes);
        if (!page.has_more || !page.next_page_token) break;
        token = page.next_page_token;
      }
    }
    const total = nodes.reduce((n, x) => n + (Number(x.size) || 0), 0);
    out.data({ type: 'files', batch_id: id, nodes, ...(onePage ? { next_page_token: next ?? null, has_more: Boolean(next) } : {}) }, () => [
      ...table(['SIZE', 'NAME'], nodes.map((n) => [String(n.size), n.name]), [true, false]),
      `${nodes.length} file${nodes.length === 1 ? '' : 's'}, ${formatBytes(total)}${next ? ` (more: --start-token ${next})` : ''}`,
    ]);
    return EXIT.OK;
  },

  async 'batches.rm'(c, args, f, ctx, out) {
    const id = batchIdArg(args[0]);
    const files = f.file ?? [];
    const targets = files.length ? files.map((name) => ({ name, label: `${name} from batch ${id}` })) : [{ name: undefined, label: `batch ${id}` }];
    let failed = 0;
    for (const t of targets) {
      const job = await withRetry(
        async (attempt) => {
          try {
            return t.name === undefined ? await c.api.deleteBatch(id, ctx.signal) : await c.api.deleteFile(id, t.name, ctx.signal);
          } catch (err) {
            // A retry after a lost answer finds the batch gone: the first attempt's job did it.
            if (attempt > 0 && err instanceof BatchupError && err.status === 404 && t.name === undefined) return undefined;
            throw err;
          }
        },
        { policy: c.retry, signal: ctx.signal, onRetry: out.retryNote },
      );
      if (!job) {
        out.data({ type: 'deleted', batch_id: id, state: 'COMPLETE', message: 'already gone' }, () => [`deleted ${t.label} (already gone)`]);
        continue;
      }
      if (f.wait === false) {
        out.data({ type: 'job', batch_id: id, file: t.name ?? null, job_id: job.jobId, job_url: job.jobUrl }, () => [`deleting ${t.label}: job ${job.jobId}`]);
        continue;
      }
      const final = await watchJob(c, job, t.label, f, ctx, out);
      out.data({ type: 'deleted', batch_id: id, file: t.name ?? null, job_id: job.jobId, state: final.state, message: final.message ?? null }, () => [
        final.state === 'COMPLETE' ? `deleted ${t.label}` : `${t.label}: job ${job.jobId} ended ${final.state}${final.message ? `: ${final.message}` : ''}`,
      ]);
      if (final.state !== 'COMPLETE') failed++;
    }
    if (failed) throw new BatchupError('REMOTE', `${failed} of ${targets.length} delete job${targets.length === 1 ? '' : 's'} did not complete`, { retryable: false });
    return EXIT.OK;
  },

  async 'batches.job'(c, args, f, ctx, out) {
    const jobId = (args[0] ?? '').trim();
    if (!jobId) throw usageError('give a job id');
    const job = { jobId };
    const s = f.wait ? await watchJob(c, job, `job ${jobId}`, f, ctx, out) : await withRetry(() => c.api.getJob(job, ctx.signal), { policy: c.retry, signal: ctx.signal, onRetry: out.retryNote });
    out.data({ type: 'job', job_id: jobId, state: s.state, message: s.message ?? null }, () => [`job ${jobId}: ${s.state}${s.message ? ` — ${s.message}` : ''}`]);
    if (f.wait && s.state !== 'COMPLETE') throw new BatchupError('REMOTE', `job ${jobId} ended ${s.state}${s.message ? `: ${s.message}` : ''}`, { retryable: false });
    return EXIT.OK;
  },

  async 'runs.start'(c, args, f, ctx, out) {
    const app = (args[0] ?? '').trim();
    if (!app) throw usageError('give the app name or id');
    const batchId = batchIdArg(f.batchId, '--batch-id');
    const req: RunRequest = { ...appRef(app), batch_id: Number(batchId) };
    if (f.owner) req.owner = f.owner;
    if (f.appVersion) req.version = f.appVersion;
    const run = await startRun(c.api, req, { signal: ctx.signal, retry: c.retry, onRetry: out.retryNote });
    if (f.wait === false) {
      out.data({ type: 'run', run }, () => [`run ${run.id} started on batch ${batchId}: ${run.status}`]);
      return EXIT.OK;
    }
    const final = await watchRun(c, run, f, ctx, out);
    return finishRun(c, final, f, ctx, out);
  },

  async 'runs.show'(c, args, _f, ctx, out) {
    const runId = (args[0] ?? '').trim();
    if (!runId) throw usageError('give a run id');
    const run = await withRetry(() => c.api.getRun(runId, ctx.signal), { policy: c.retry, signal: ctx.signal, onRetry: out.retryNote });
    out.data({ type: 'run', run }, () => describeRun(run));
    return EXIT.OK;
  },

  async 'runs.results'(c, args, f, ctx, out) {
    const runId = (args[0] ?? '').trim();
    if (!runId) throw usageError('give a run id');
    const run = await withRetry(() => c.api.getRun(runId, ctx.signal), { policy: c.retry, signal: ctx.signal, onRetry: out.retryNote });
    return finishRun(c, run, f, ctx, out);
  },
};

async function watchJob(c: Connection, job: { jobId: string; jobUrl?: string }, label: string, f: ManageFlags, ctx: CliContext, out: Output): Promise<JobStatus> {
  const started = Date.now();
  out.progress(`deleting ${label}: waiting for job ${job.jobId}`);
  return waitForJob(c.api, job, {
    ...waiting(f, ctx, c, out),
    onUpdate: (s) => {
      if (JOB_DONE.has(s.state)) out.progressDone(`${label}: job ${s.state} after ${formatDuration(Date.now() - started)}`, s.state === 'COMPLETE');
      else out.progress(`deleting ${label}: job ${s.state}${s.message ? ` (${s.message})` : ''}`);
    },
  });
}

async function watchRun(c: Connection, run: RunInfo, f: ManageFlags, ctx: CliContext, out: Output): Promise<RunInfo> {
  const started = Date.now();
  const line = (r: RunInfo) =>
    `run ${r.id} on batch ${r.batch_id ?? '?'}: ${r.status}${r.progress ? ` ${r.progress.completed}/${r.progress.total} files` : ''} (${formatDuration(Date.now() - started)})`;
  if (runDone(run)) return run;
  out.progress(line(run));
  return waitForRun(c.api, run.id, {
    ...waiting(f, ctx, c, out),
    onUpdate: (r) => (runDone(r) ? out.progressDone(line(r), r.status === 'COMPLETE') : out.progress(line(r))),
  });
}

/** Read every page of a finished run's results; print or write them; a run that did not COMPLETE is a REMOTE error. */
async function finishRun(c: Connection, run: RunInfo, f: ManageFlags, ctx: CliContext, out: Output): Promise<number> {
  const fileOffset = f.fileOffset === undefined ? 0 : parseIntInRange(f.fileOffset, 0, Number.MAX_SAFE_INTEGER, '--file-offset');
  let files: RunFileResult[] = [];
  let pages = 0;
  if (run.status === 'COMPLETE' || f.fileOffset !== undefined) {
    const r = await allResults(c.api, run.id, {
      signal: ctx.signal,
      retry: c.retry,
      onRetry: out.retryNote,
      fileOffset,
      onPage: (offset, n) => out.progress(`results of run ${run.id}: ${n} file(s) from file_offset ${offset}`),
    });
    files = r.files;
    pages = r.pages;
  }
  out.stop();
  if (f.results) {
    const path = resolve(ctx.cwd, f.results);
    await writeJsonAtomic(path, { run, pages, file_offset: fileOffset, files });
    out.data({ type: 'results', run_id: run.id, status: run.status, files: files.length, pages, path }, () => [
      `run ${run.id} ${run.status}: results of ${files.length} file(s) in ${pages} page(s) written to ${path}`,
    ]);
  } else {
    out.data({ type: 'results', run, pages, file_offset: fileOffset, files }, () => [
      ...describeRun(run),
      ...table(['FILE', 'DOCUMENTS'], files.map((x) => [x.original_file_name, String(x.documents?.length ?? 0)]), [false, true]),
      `${files.length} file(s) in ${pages} page(s)`,
    ]);
  }
  if (run.status !== 'COMPLETE') {
    throw new BatchupError('REMOTE', `run ${run.id} ended ${run.status}${run.msg ? `: ${run.msg}` : ''}`, { retryable: false });
  }
  return EXIT.OK;
}

function describeRun(r: RunInfo): string[] {
  const lines = [`run ${r.id}: ${r.status}`];
  if (r.batch_id !== undefined && r.batch_id !== null) lines.push(`  batch: ${r.batch_id}`);
  if (r.progress) lines.push(`  files: ${r.progress.completed}/${r.progress.total}`);
  if (r.start_timestamp) lines.push(`  started: ${isoOf(r.start_timestamp)}`);
  if (r.finish_timestamp) lines.push(`  finished: ${isoOf(r.finish_timestamp)}`);
  if (r.msg) lines.push(`  message: ${r.msg}`);
  return lines;
}

const isoOf = (ms: unknown): string => {
  const n = Number(ms);
  return Number.isFinite(n) && n > 0 ? new Date(n).toISOString() : '';
};

/** Left-aligned columns (right-aligned where `right` says), two spaces apart. */
export function table(head: string[], rows: string[][], right: boolean[] = []): string[] {
  if (!rows.length) return [];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const fmt = (r: string[]) =>
    r
      .map((cell, i) => (i === r.length - 1 && !right[i] ? cell : right[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join('  ');
  return [fmt(head), ...rows.map(fmt)];
}

/** Data on stdout; progress on stderr (spinner on a TTY, lines otherwise, none with --json/--quiet). */
class Output {
  private spinner?: Ora;
  private lastLine = '';
  private readonly mode: 'json' | 'tty' | 'plain' | 'quiet';

  constructor(private readonly ctx: CliContext, private readonly f: ManageFlags) {
    this.mode = f.json ? 'json' : f.quiet ? 'quiet' : pickRendererKind({}, ctx.stderr, ctx.env) === 'tty' ? 'tty' : 'plain';
  }

  data(json: Record<string, unknown>, human: () => string[]): void {
    if (this.mode === 'json') {
      this.ctx.stdout.write(redact(JSON.stringify(json)) + '\n');
      return;
    }
    this.stop();
    for (const line of human()) this.ctx.stdout.write(redact(line) + '\n');
  }

  progress(text: string): void {
    if (this.mode === 'json' || this.mode === 'quiet') return;
    if (this.mode === 'plain') {
      if (text !== this.lastLine) this.ctx.stderr.write(redact(text) + '\n');
      this.lastLine = text;
      return;
    }
    if (!this.spinner) this.startSpinner(text);
    else this.spinner.text = redact(text);
  }

  progressDone(text: string, ok: boolean): void {
    if (this.mode === 'json' || this.mode === 'quiet') return;
    if (this.mode === 'plain') return this.progress(text);
    if (!this.spinner) this.startSpinner(text);
    const s = this.spinner!;
    this.spinner = undefined;
    if (ok) s.succeed(redact(text));
    else s.fail(redact(text));
  }

  retryNote = (info: { attempt: number; delayMs: number; error: BatchupError }): void => {
    if (!this.f.verbose || this.mode === 'json') return;
    this.stop();
    this.ctx.stderr.write(redact(`retry ${info.attempt} in ${formatDuration(info.delayMs)}: ${info.error.message} (${info.error.code})`) + '\n');
  };

  private startSpinner(text: string): void {
    this.spinner = ora({ text: redact(text), stream: this.ctx.stderr as NodeJS.WritableStream, discardStdin: false }).start();
  }

  stop(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }
}
