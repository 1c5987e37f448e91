/**
 * `batchup batches …` and `batchup runs …`: manage what aihub keeps on its side (batches, their
 * files, delete jobs, app runs). Declared without commander (core/provider.ts `CommandGroup`);
 * the CLI wires the flags, resolves endpoint and credentials, and renders `c.out` (data on stdout,
 * progress on stderr). A delete job or a run that ends FAILED is a REMOTE error.
 */
import { resolve } from 'node:path';
import { BatchupError, usageError } from '../../core/errors.js';
import { writeJsonAtomic } from '../../core/manifest.js';
import { durationFlag, parseIntInRange } from '../../core/parse.js';
import type { CommandContext, CommandGroup, CommandSpec, FlagSpec, FlagValues } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import { formatBytes, formatDuration, isoOf, table } from '../../core/text.js';
import { AihubApi, type RunRequest } from './api.js';
import { JOB_DONE, appRef, checkIbContext, type BatchInfo, type JobStatus, type RunFileResult, type RunInfo } from './contract.js';
import { allResults, createBatch, listAllBatches, runDone, startRun, waitForJob, waitForRun } from './ops.js';

/** The flag values a command reads (strings as typed; lists for repeatable flags). */
interface F {
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

interface Conn extends CommandContext {
  api: AihubApi;
}

const batchIdArg = (raw: string | undefined, what = 'batch id'): string => {
  const v = (raw ?? '').trim();
  if (!/^\d+$/.test(v)) throw usageError(`${what} must be a batch number, got "${raw ?? ''}"`);
  return v;
};

const waiting = (f: F, c: Conn) => ({
  signal: c.signal,
  retry: c.retry,
  intervalMs: c.poll.initialMs,
  maxMs: c.poll.maxMs,
  timeoutMs: f.pollTimeout === undefined ? c.poll.timeoutMs : durationFlag(f.pollTimeout, '--poll-timeout'),
  onRetry: c.out.retryNote,
});

const RUN: Record<string, (c: Conn, args: string[], f: F) => Promise<void>> = {
  async 'batches.list'(c, _args, f) {
    const onePage = f.limit !== undefined || f.offset !== undefined;
    const q = { workspace: f.workspace, username: f.username };
    let list: BatchInfo[];
    let next: number | undefined;
    if (onePage) {
      const limit = f.limit === undefined ? undefined : parseIntInRange(f.limit, 1, 100_000, '--limit');
      const offset = f.offset === undefined ? 0 : parseIntInRange(f.offset, 0, Number.MAX_SAFE_INTEGER, '--offset');
      list = await withRetry(() => c.api.listBatches({ ...q, limit, offset }, c.signal), { policy: c.retry, signal: c.signal, onRetry: c.out.retryNote });
      if (limit !== undefined && list.length === limit) next = offset + limit;
    } else {
      list = await listAllBatches(c.api, q, { signal: c.signal, retry: c.retry, onRetry: c.out.retryNote });
    }
    c.out.data({ type: 'batches', batches: list, ...(next !== undefined ? { next_offset: next } : {}) }, () => [
      ...table(
        ['ID', 'NAME', 'WORKSPACE', 'OWNER', 'CREATED'],
        list.map((b) => [String(b.id), b.name, b.workspace ?? '', b.batch_owner ?? '', isoOf(b.created_at_ms)]),
      ),
      `${list.length} batch${list.length === 1 ? '' : 'es'}${next !== undefined ? ` (more: --offset ${next})` : ''}`,
    ]);
    return;
  },

  async 'batches.show'(c, args, _f) {
    const id = batchIdArg(args[0]);
    const b = await withRetry(() => c.api.getBatch(id, c.signal), { policy: c.retry, signal: c.signal, onRetry: c.out.retryNote });
    if (!b) throw new BatchupError('NOT_FOUND', `aihub batch ${id} does not exist, or denied access`, { status: 404, retryable: false });
    c.out.data({ type: 'batch', batch: b }, () =>
      Object.entries(b).map(([k, v]) => `${k}: ${k.endsWith('_ms') ? `${isoOf(v as number)} (${String(v)})` : String(v)}`),
    );
    return;
  },

  async 'batches.create'(c, args, f) {
    const name = args[0] ?? '';
    if (!name.trim()) throw usageError('the batch name is empty');
    // Not retried blindly: see createBatch in ops.ts for how a lost answer is resolved.
    const { id } = await createBatch(c.api, name, f.workspace, { signal: c.signal, retry: c.retry, onRetry: c.out.retryNote });
    c.out.data({ type: 'batch-created', id, name, workspace: f.workspace ?? null }, () => [id]);
    return;
  },

  async 'batches.files'(c, args, f) {
    const id = batchIdArg(args[0]);
    const onePage = f.pageSize !== undefined || f.startToken !== undefined;
    const pageSize = f.pageSize === undefined ? undefined : parseIntInRange(f.pageSize, 1, 100_000, '--page-size');
    let nodes: { name: string; size: number }[] = [];
    let next: string | null | undefined;
    if (onePage) {
      const page = await withRetry(() => c.api.listFiles(id, { pageSize, startToken: f.startToken }, c.signal), {
        policy: c.retry,
        signal: c.signal,
        onRetry: c.out.retryNote,
      });
      nodes = page.nodes;
      next = page.has_more ? page.next_page_token : null;
    } else {
      let token: string | undefined;
      for (;;) {
        const t = token;
        const page = await withRetry(() => c.api.listFiles(id, { startToken: t }, c.signal), { policy: c.retry, signal: c.signal, onRetry: c.out.retryNote });
        nodes.push(...page.nodes);
        if (!page.has_more || !page.next_page_token) break;
        token = page.next_page_token;
      }
    }
    const total = nodes.reduce((n, x) => n + (Number(x.size) || 0), 0);
    c.out.data({ type: 'files', batch_id: id, nodes, ...(onePage ? { next_page_token: next ?? null, has_more: Boolean(next) } : {}) }, () => [
      ...table(
        ['SIZE', 'NAME'],
        nodes.map((n) => [String(n.size), n.name]),
        [true, false],
      ),
      `${nodes.length} file${nodes.length === 1 ? '' : 's'}, ${formatBytes(total)}${next ? ` (more: --start-token ${next})` : ''}`,
    ]);
    return;
  },

  async 'batches.rm'(c, args, f) {
    const id = batchIdArg(args[0]);
    const files = f.file ?? [];
    const targets = files.length ? files.map((name) => ({ name, label: `${name} from batch ${id}` })) : [{ name: undefined, label: `batch ${id}` }];
    let failed = 0;
    for (const t of targets) {
      const job = await withRetry(
        async (attempt) => {
          try {
            return t.name === undefined ? await c.api.deleteBatch(id, c.signal) : await c.api.deleteFile(id, t.name, c.signal);
          } catch (err) {
            // A retry after a lost answer finds the batch gone: the first attempt's job did it.
            if (attempt > 0 && err instanceof BatchupError && err.status === 404 && t.name === undefined) return undefined;
            throw err;
          }
        },
        { policy: c.retry, signal: c.signal, onRetry: c.out.retryNote },
      );
      if (!job) {
        c.out.data({ type: 'deleted', batch_id: id, state: 'COMPLETE', message: 'already gone' }, () => [`deleted ${t.label} (already gone)`]);
        continue;
      }
      if (f.wait === false) {
        c.out.data({ type: 'job', batch_id: id, file: t.name ?? null, job_id: job.jobId, job_url: job.jobUrl }, () => [
          `deleting ${t.label}: job ${job.jobId}`,
        ]);
        continue;
      }
      const final = await watchJob(c, job, t.label, f);
      c.out.data({ type: 'deleted', batch_id: id, file: t.name ?? null, job_id: job.jobId, state: final.state, message: final.message ?? null }, () => [
        final.state === 'COMPLETE' ? `deleted ${t.label}` : `${t.label}: job ${job.jobId} ended ${final.state}${final.message ? `: ${final.message}` : ''}`,
      ]);
      if (final.state !== 'COMPLETE') failed++;
    }
    if (failed)
      throw new BatchupError('REMOTE', `${failed} of ${targets.length} delete job${targets.length === 1 ? '' : 's'} did not complete`, { retryable: false });
    return;
  },

  async 'batches.job'(c, args, f) {
    const jobId = (args[0] ?? '').trim();
    if (!jobId) throw usageError('give a job id');
    const job = { jobId };
    const s = f.wait
      ? await watchJob(c, job, `job ${jobId}`, f)
      : await withRetry(() => c.api.getJob(job, c.signal), { policy: c.retry, signal: c.signal, onRetry: c.out.retryNote });
    c.out.data({ type: 'job', job_id: jobId, state: s.state, message: s.message ?? null }, () => [
      `job ${jobId}: ${s.state}${s.message ? ` — ${s.message}` : ''}`,
    ]);
    if (f.wait && s.state !== 'COMPLETE')
      throw new BatchupError('REMOTE', `job ${jobId} ended ${s.state}${s.message ? `: ${s.message}` : ''}`, { retryable: false });
    return;
  },

  async 'runs.start'(c, args, f) {
    const app = (args[0] ?? '').trim();
    if (!app) throw usageError('give the app name or id');
    const batchId = batchIdArg(f.batchId, '--batch-id');
    const req: RunRequest = { ...appRef(app), batch_id: Number(batchId) };
    if (f.owner) req.owner = f.owner;
    if (f.appVersion) req.version = f.appVersion;
    const run = await startRun(c.api, req, { signal: c.signal, retry: c.retry, onRetry: c.out.retryNote });
    if (f.wait === false) {
      c.out.data({ type: 'run', run }, () => [`run ${run.id} started on batch ${batchId}: ${run.status}`]);
      return;
    }
    const final = await watchRun(c, run, f);
    return finishRun(c, final, f);
  },

  async 'runs.show'(c, args, _f) {
    const runId = (args[0] ?? '').trim();
    if (!runId) throw usageError('give a run id');
    const run = await withRetry(() => c.api.getRun(runId, c.signal), { policy: c.retry, signal: c.signal, onRetry: c.out.retryNote });
    c.out.data({ type: 'run', run }, () => describeRun(run));
    return;
  },

  async 'runs.results'(c, args, f) {
    const runId = (args[0] ?? '').trim();
    if (!runId) throw usageError('give a run id');
    const run = await withRetry(() => c.api.getRun(runId, c.signal), { policy: c.retry, signal: c.signal, onRetry: c.out.retryNote });
    return finishRun(c, run, f);
  },
};

async function watchJob(c: Conn, job: { jobId: string; jobUrl?: string }, label: string, f: F): Promise<JobStatus> {
  const started = Date.now();
  c.out.progress(`deleting ${label}: waiting for job ${job.jobId}`);
  return waitForJob(c.api, job, {
    ...waiting(f, c),
    onUpdate: (s) => {
      if (JOB_DONE.has(s.state)) c.out.progressDone(`${label}: job ${s.state} after ${formatDuration(Date.now() - started)}`, s.state === 'COMPLETE');
      else c.out.progress(`deleting ${label}: job ${s.state}${s.message ? ` (${s.message})` : ''}`);
    },
  });
}

async function watchRun(c: Conn, run: RunInfo, f: F): Promise<RunInfo> {
  const started = Date.now();
  const line = (r: RunInfo) =>
    `run ${r.id} on batch ${r.batch_id ?? '?'}: ${r.status}${r.progress ? ` ${r.progress.completed}/${r.progress.total} files` : ''} (${formatDuration(Date.now() - started)})`;
  if (runDone(run)) return run;
  c.out.progress(line(run));
  return waitForRun(c.api, run.id, {
    ...waiting(f, c),
    onUpdate: (r) => (runDone(r) ? c.out.progressDone(line(r), r.status === 'COMPLETE') : c.out.progress(line(r))),
  });
}

/** Read every page of a finished run's results; print or write them; a run that did not COMPLETE is a REMOTE error. */
async function finishRun(c: Conn, run: RunInfo, f: F): Promise<void> {
  const fileOffset = f.fileOffset === undefined ? 0 : parseIntInRange(f.fileOffset, 0, Number.MAX_SAFE_INTEGER, '--file-offset');
  let files: RunFileResult[] = [];
  let pages = 0;
  if (run.status === 'COMPLETE' || f.fileOffset !== undefined) {
    const r = await allResults(c.api, run.id, {
      signal: c.signal,
      retry: c.retry,
      onRetry: c.out.retryNote,
      fileOffset,
      onPage: (offset, n) => c.out.progress(`results of run ${run.id}: ${n} file(s) from file_offset ${offset}`),
    });
    files = r.files;
    pages = r.pages;
  }
  c.out.stop();
  if (f.results) {
    const path = resolve(c.cwd, f.results);
    await writeJsonAtomic(path, { run, pages, file_offset: fileOffset, files });
    c.out.data({ type: 'results', run_id: run.id, status: run.status, files: files.length, pages, path }, () => [
      `run ${run.id} ${run.status}: results of ${files.length} file(s) in ${pages} page(s) written to ${path}`,
    ]);
  } else {
    c.out.data({ type: 'results', run, pages, file_offset: fileOffset, files }, () => [
      ...describeRun(run),
      ...table(
        ['FILE', 'DOCUMENTS'],
        files.map((x) => [x.original_file_name, String(x.documents?.length ?? 0)]),
        [false, true],
      ),
      `${files.length} file(s) in ${pages} page(s)`,
    ]);
  }
  if (run.status !== 'COMPLETE') {
    throw new BatchupError('REMOTE', `run ${run.id} ended ${run.status}${run.msg ? `: ${run.msg}` : ''}`, { retryable: false });
  }
  return;
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

const flag = (flags: string, description: string, key: string, more: Partial<FlagSpec> = {}): FlagSpec => ({ flags, description, key, ...more });
const pollTimeout = flag('--poll-timeout <duration>', 'give up waiting after this long (e.g. 90m; default 1h)', 'pollTimeout');
const noWait = flag('--no-wait', 'print the id and do not wait for it', 'wait');

/** Real command lines for each command's help. */
const EXAMPLES: Record<string, string[]> = {
  'batches.list': ['batchup batches list', 'batchup batches list --workspace finance --limit 20', 'batchup batches list --json | jq -r .batches[].id'],
  'batches.show': ['batchup batches show 1234', 'batchup batches show 1234 --json'],
  'batches.create': ['batchup batches create invoices-2026-12', 'batchup batches create scans --workspace finance'],
  'batches.files': ['batchup batches files 1234', 'batchup batches files 1234 --page-size 100 --json'],
  'batches.rm': ['batchup batches rm 1234', 'batchup batches rm 1234 --file old.pdf --file older.pdf', 'batchup batches rm 1234 --no-wait'],
  'batches.job': [
    'batchup batches job 4cf36c71-de8a-46c7-b05e-b86947319331',
    'batchup batches job 4cf36c71-de8a-46c7-b05e-b86947319331 --wait --poll-timeout 30m',
  ],
  'runs.start': [
    'batchup runs start doc-extract --batch-id 1234',
    'batchup runs start id:42 --batch-id 1234 --results results.json',
    'batchup runs start doc-extract --batch-id 1234 --no-wait',
  ],
  'runs.show': ['batchup runs show 987', 'batchup runs show 987 --json'],
  'runs.results': ['batchup runs results 987', 'batchup runs results 987 --file-offset 100 --results page2.json'],
};

function command(group: string, name: string, description: string, args: CommandSpec['args'], options: FlagSpec[], waits = false): CommandSpec {
  return {
    name,
    description,
    examples: EXAMPLES[`${group}.${name}`],
    args,
    options,
    waits,
    async run(c, argv, flags) {
      const ib = typeof flags.ibContext === 'string' ? flags.ibContext : undefined;
      if (ib !== undefined) checkIbContext(ib, '--ib-context');
      const conn: Conn = { ...c, api: new AihubApi({ http: c.http, endpoint: c.endpoint, ibContext: ib }) };
      await RUN[`${group}.${name}`]!(conn, argv, flags as F & FlagValues);
    },
  };
}

const ibContext = flag('--ib-context <id>', 'IB-Context header (organization or user id) on every request', 'ibContext', { env: 'BATCHUP_IB_CONTEXT' });

export const AIHUB_COMMANDS: readonly CommandGroup[] = [
  {
    name: 'batches',
    description: 'manage aihub batches: list, show, create, files, rm, job',
    options: [ibContext],
    examples: ['batchup batches list --workspace finance', 'batchup batches files 1234', 'batchup batches rm 1234 --file old.pdf'],
    commands: [
      command(
        'batches',
        'list',
        'list batches (every page, or one page with --limit/--offset)',
        [],
        [
          flag('--workspace <name>', 'only batches in this workspace', 'workspace'),
          flag('--username <user>', 'only batches created by this user', 'username'),
          flag('--limit <n>', 'one page of at most N batches', 'limit'),
          flag('--offset <n>', 'start of the page (with --limit)', 'offset'),
        ],
      ),
      command('batches', 'show', 'show one batch', [{ name: 'batch-id' }], []),
      command(
        'batches',
        'create',
        'create an empty batch and print its id',
        [{ name: 'name' }],
        [flag('--workspace <name>', 'workspace to create it in', 'workspace')],
      ),
      command(
        'batches',
        'files',
        "list a batch's files (every page, or one page with --page-size/--start-token)",
        [{ name: 'batch-id' }],
        [flag('--page-size <n>', 'one page of at most N files', 'pageSize'), flag('--start-token <token>', 'continue from this next_page_token', 'startToken')],
      ),
      command(
        'batches',
        'rm',
        'delete a batch, or only some of its files, and wait for the job',
        [{ name: 'batch-id' }],
        [flag('--file <name>', 'delete only this file (repeatable)', 'file', { repeatable: true }), noWait, pollTimeout],
        true,
      ),
      command(
        'batches',
        'job',
        'show a delete job; --wait polls it until it ends',
        [{ name: 'job-id' }],
        [flag('--wait', 'poll until COMPLETE / FAILED / CANCELLED', 'wait'), pollTimeout],
        true,
      ),
    ],
  },
  {
    name: 'runs',
    description: 'run aihub apps on batches: start, show, results',
    options: [ibContext],
    examples: ['batchup runs start doc-extract --batch-id 1234 --results results.json', 'batchup runs show 987', 'batchup runs results 987 --file-offset 100'],
    commands: [
      command(
        'runs',
        'start',
        'start an app run on a batch, wait for it and read its results',
        [{ name: 'app', description: 'app name or id (id:<x> / name:<x> force either)' }],
        [
          flag('--batch-id <id>', 'the batch to run on', 'batchId', { required: true }),
          flag('--owner <owner>', 'owner of the app', 'owner'),
          flag('--app-version <version>', 'app version', 'appVersion'),
          flag('--results <file>', 'write the results (every page) to this JSON file', 'results'),
          noWait,
          pollTimeout,
        ],
        true,
      ),
      command('runs', 'show', "show a run's status", [{ name: 'run-id' }], []),
      command(
        'runs',
        'results',
        "read a run's results (every page from --file-offset)",
        [{ name: 'run-id' }],
        [
          flag('--file-offset <n>', 'first file (default 0)', 'fileOffset'),
          flag('--results <file>', 'write them to this JSON file instead of stdout', 'results'),
        ],
        true,
      ),
    ],
  },
];
