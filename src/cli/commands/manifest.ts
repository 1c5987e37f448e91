/**
 * `batchup manifest merge|show|urls|verify`. Data goes to stdout (a manifest, a table, URLs, a
 * report); notes and errors to stderr, redacted like every other line.
 */
import { setMaxListeners } from 'node:events';
import { isAbsolute, relative, resolve } from 'node:path';
import { usageError } from '../../core/errors.js';
import { Http } from '../../core/http.js';
import { type LoadedManifest, loadManifests, manifestUrls, mergeManifests } from '../../core/manifest-tools.js';
import { verifyManifest, type UrlCheck, type UrlState } from '../../core/manifest-verify.js';
import { type EntryStatus, type Manifest, writeJsonAtomic } from '../../core/manifest.js';
import { durationFlag, parseIntInRange } from '../../core/parse.js';
import { formatDuration, table } from '../../core/text.js';
import type { CliContext } from '../context.js';
import { EXIT } from '../exit-codes.js';
import { redact } from '../redact.js';

const STATUSES: readonly EntryStatus[] = ['uploaded', 'skipped', 'rejected', 'failed'];

/** A reader that stops early (`| head`) closes the pipe: the rest of the output is dropped, not a crash. */
function quietPipe(ctx: CliContext): void {
  const s = ctx.stdout as NodeJS.WritableStream & { listenerCount?(e: string): number };
  if (!s.listenerCount?.('error'))
    s.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
    });
}

const out = (ctx: CliContext, text: string) => {
  quietPipe(ctx);
  ctx.stdout.write(`${redact(text)}\n`);
};
const note = (ctx: CliContext, text: string) => void ctx.stderr.write(`${redact(text)}\n`);

/** A source as the user knows it: relative to the current directory when inside it. */
function shown(source: string, cwd: string): string {
  if (!isAbsolute(source)) return source;
  const rel = relative(cwd, source);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : source;
}

async function loadOne(file: string, ctx: CliContext): Promise<LoadedManifest> {
  const { loaded, problems } = await loadManifests([resolve(ctx.cwd, file)]);
  if (problems.length) throw usageError(`cannot read the manifest ${problems[0]}`);
  return loaded[0]!;
}

const counts = (m: Manifest) => STATUSES.map((s) => `${m.entries.filter((e) => e.status === s).length} ${s}`).join(', ');

export async function mergeCommand(files: string[], opts: { output?: string }, ctx: CliContext): Promise<number> {
  const { loaded, problems } = await loadManifests(files.map((f) => resolve(ctx.cwd, f)));
  if (problems.length) {
    note(ctx, `error: cannot merge: ${problems.length === 1 ? 'a manifest' : `${problems.length} manifests`} could not be read`);
    for (const p of problems) note(ctx, `  ${p}`);
    return EXIT.USAGE;
  }
  const { manifest, conflicts } = mergeManifests(loaded.map((l) => ({ ...l, path: shown(l.path, ctx.cwd) })));
  if (conflicts.length) {
    note(ctx, `error: cannot merge ${loaded.length} manifests: ${conflicts.length} ${conflicts.length === 1 ? 'conflict' : 'conflicts'}`);
    for (const c of conflicts) note(ctx, `  ${c}`);
    return EXIT.USAGE;
  }
  const what = `merged ${loaded.length} ${loaded.length === 1 ? 'manifest' : 'manifests'}: ${manifest.entries.length} entries (${counts(manifest)})`;
  if (opts.output) {
    const path = resolve(ctx.cwd, opts.output);
    await writeJsonAtomic(path, manifest);
    note(ctx, `${what} -> ${path}`);
  } else {
    out(ctx, JSON.stringify(manifest, null, 2));
    note(ctx, what);
  }
  return EXIT.OK;
}

export async function showCommand(file: string, opts: { status?: string; json?: boolean }, ctx: CliContext): Promise<number> {
  let wanted: Set<string> | undefined;
  if (opts.status !== undefined) {
    wanted = new Set(
      opts.status
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean),
    );
    const bad = [...wanted].filter((s) => !(STATUSES as readonly string[]).includes(s));
    if (bad.length || !wanted.size) throw usageError(`--status takes a comma list of ${STATUSES.join(', ')}, got "${opts.status}"`);
  }
  const { manifest: m } = await loadOne(file, ctx);
  const entries = m.entries.filter((e) => !wanted || wanted.has(e.status));
  if (opts.json) {
    for (const e of entries) out(ctx, JSON.stringify(e));
    return EXIT.OK;
  }
  const shard = m.shard as { index?: number; total?: number } | undefined;
  const head = [
    `provider ${m.provider}`,
    m.endpoint && `endpoint ${m.endpoint}`,
    shard?.total && `shard ${shard.index}/${shard.total}`,
    `updated ${m.updatedAt}`,
  ];
  out(ctx, head.filter(Boolean).join(' · '));
  out(ctx, `${m.entries.length} entries: ${counts(m)}${wanted ? ` (showing ${[...wanted].join(', ')}: ${entries.length})` : ''}`);
  if (!entries.length) return EXIT.OK;
  out(ctx, '');
  const rows = entries.map((e) => [
    e.status,
    shown(e.source, ctx.cwd),
    e.url ?? (e.error ? oneLine(e.error) : e.rule ? `(${e.rule})` : e.code ? `(${e.code})` : ''),
  ]);
  for (const line of table(['STATUS', 'SOURCE', 'URL OR REASON'], rows)) out(ctx, line);
  return EXIT.OK;
}

export async function urlsCommand(file: string, ctx: CliContext): Promise<number> {
  const { manifest } = await loadOne(file, ctx);
  const urls = manifestUrls(manifest);
  // One write: a pipe reader (head, xargs) gets whole lines.
  if (urls.length) out(ctx, urls.join('\n'));
  return EXIT.OK;
}

export async function verifyCommand(
  file: string,
  opts: { within?: string; concurrency?: string; timeout?: string; json?: boolean },
  ctx: CliContext,
): Promise<number> {
  const withinMs = opts.within === undefined ? 3 * 86_400_000 : durationFlag(opts.within, '--within', { min: 0 });
  const concurrency = opts.concurrency === undefined ? 8 : parseIntInRange(opts.concurrency, 1, 64, '--concurrency');
  const timeoutMs = opts.timeout === undefined ? 30_000 : durationFlag(opts.timeout, '--timeout');
  const { manifest } = await loadOne(file, ctx);
  const http = new Http({ timeoutMs, connections: concurrency });
  const started = Date.now();
  // Every request and retry pause in flight listens to it.
  const stop = new AbortController();
  setMaxListeners(0, stop.signal);
  const abort = () => stop.abort(ctx.signal.reason);
  ctx.signal.addEventListener('abort', abort, { once: true });
  let checks: UrlCheck[];
  try {
    checks = await verifyManifest(manifest, { http, withinMs, concurrency, now: Date.now(), signal: stop.signal });
  } finally {
    ctx.signal.removeEventListener('abort', abort);
    await http.close().catch(() => {});
  }
  const n = (s: UrlState) => checks.filter((c) => c.state === s).length;
  const tally = { checked: checks.length, ok: n('ok'), expiring: n('expiring'), dead: n('dead'), error: n('error'), skipped: n('skipped') };
  const bad = tally.expiring + tally.dead + tally.error;
  if (opts.json) {
    out(ctx, JSON.stringify({ ...tally, withinMs, urls: checks }));
    return bad ? EXIT.PARTIAL : EXIT.OK;
  }
  const problems = checks.filter((c) => c.state !== 'ok');
  if (problems.length) {
    const rows = problems.map((c) => [
      c.state,
      c.url,
      `${c.reason ?? ''} — ${shown(c.sources[0]!, ctx.cwd)}${c.sources.length > 1 ? ` (+${c.sources.length - 1})` : ''}`,
    ]);
    for (const line of table(['STATE', 'URL', 'WHY — SOURCE'], rows)) out(ctx, line);
    out(ctx, '');
  }
  const parts = [`${tally.ok} ok`, `${tally.expiring} expiring within ${opts.within ?? '3d'}`, `${tally.dead} dead`, `${tally.error} unreachable`];
  if (tally.skipped) parts.push(`${tally.skipped} not checkable (not http)`);
  out(ctx, `verified ${tally.checked} ${tally.checked === 1 ? 'URL' : 'URLs'} in ${formatDuration(Date.now() - started)}: ${parts.join(', ')}`);
  return bad ? EXIT.PARTIAL : EXIT.OK;
}

const oneLine = (s: string) => s.replace(/\s+/g, ' ');
