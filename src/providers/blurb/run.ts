/**
 * One blurb batch: resolve its local assets to URLs, submit it once, wait for its renders, and
 * one manifest entry per render (`<spec>#<ref>!/<index>`: id = renderId, url = renderUrl,
 * remote = the render record).
 *
 * Never twice (core/handles.ts `submitOnce`): the batch's handle — keyed by endpoint, source and
 * content — is journaled before the POST and again with the id the answer brings, so a rerun
 * after a crash adopts the batch (asks the API for it) instead of paying for its renders again.
 * The window between the POST and its answer cannot be closed: blurb has no lookup by ref. A
 * POST whose answer proves nothing was created (a connection refused, 429, 503) is sent again;
 * any other lost answer (a reset, a timeout, a 500) fails the batch as UNKNOWN_OUTCOME, and every
 * rerun refuses it the same way until the user, having checked the vendor's records for its
 * `ref`, passes `--resubmit REF` (or `--force`).
 *
 * A batch whose renders all completed is settled with its handle dropped in the same commit. When
 * some failed, the completed ones are kept (`…:done`): a rerun sends a batch of only the others.
 */
import { createHash } from 'node:crypto';
import { dirname, extname, relative, sep } from 'node:path';
import { failedEntry, inputEntry, uploadedEntry } from '../../core/entries.js';
import { BatchupError, toBatchupError } from '../../core/errors.js';
import { submitOnce } from '../../core/handles.js';
import type { ManifestEntry } from '../../core/manifest.js';
import type { BatchPlan, ProviderContext, ProviderRun } from '../../core/provider.js';
import { withRetry } from '../../core/retry.js';
import type { Item } from '../../core/types.js';
import { BlurbApi } from './api.js';
import { type BatchRecord, isDone, POST_NOT_CREATED, type RenderRecord } from './contract.js';
import { type BlurbOptions, webhookUrlOf } from './options.js';
import { WebhookReceiver } from './receiver.js';
import { content, payloadOf, type SpecPayload } from './spec.js';
import { waitForBatch } from './wait.js';

const TYPES: Record<string, string> = { '.mp3': 'audio/mpeg', '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg' };
/** Connection failures that prove the request never reached the server. */
const NOT_SENT = /\((ECONNREFUSED|ENOTFOUND|EAI_AGAIN|UND_ERR_CONNECT_TIMEOUT)\)/;

/** The handle of a batch: the same spec content at the same endpoint is the same batch. */
export const handleKey = (endpoint: string, source: string, p: SpecPayload) =>
  `blurb:batch:${createHash('sha256')
    .update(`${endpoint.replace(/\/+$/, '')}\0${source}\0${content(p.body)}`)
    .digest('hex')
    .slice(0, 32)}`;

export function openBlurbRun(ctx: ProviderContext<BlurbOptions>): ProviderRun {
  const api = new BlurbApi(ctx.http, ctx.endpoint);
  const hosted = new Map<string, Promise<string>>();
  let receiver: Promise<WebhookReceiver> | undefined;
  const listen = () => {
    const w = ctx.options.webhook;
    if (!w) return undefined;
    if (!receiver) {
      receiver = WebhookReceiver.start(w.host, w.port);
      receiver.then((r) => ctx.signal.addEventListener('abort', () => void r.close(), { once: true })).catch(() => undefined);
    }
    return receiver;
  };
  const host = (path: string) => {
    let url = hosted.get(path);
    if (!url) {
      url = withRetry(() => api.hostAsset(path, TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream', ctx.signal), {
        policy: ctx.retry,
        signal: ctx.signal,
      });
      hosted.set(path, url);
    }
    return url;
  };
  return {
    runBatch: async (batch) => runBatch(batch, { ctx, api, host, receiver: await listen() }),
    async finish() {
      await (await receiver)?.close();
      return undefined;
    },
  };
}

interface Run {
  ctx: ProviderContext<BlurbOptions>;
  api: BlurbApi;
  host(path: string): Promise<string>;
  receiver?: WebhookReceiver;
}

/** The body as sent: local assets as URLs, the receiver as webhookUrl, only the renders still owed. */
async function bodyToSend(p: SpecPayload, owed: number[], r: Run): Promise<Record<string, unknown>> {
  const body = structuredClone(p.body);
  for (const a of p.assets) {
    if (!a.local) continue;
    const url = r.ctx.options.sandboxAssets
      ? await r.host(a.local)
      : new URL(relative(dirname(p.spec), a.local).split(sep).map(encodeURIComponent).join('/'), r.ctx.options.assetBaseUrl).href;
    const parent = a.path.slice(0, -1).reduce((o, k) => o[k] as Record<string, unknown>, body);
    parent[a.path[a.path.length - 1]!] = url;
  }
  if (r.receiver) body.webhookUrl = webhookUrlOf(r.ctx.options.webhook!, r.receiver.port);
  body.renders = owed.map((i) => (p.body.renders as unknown[])[i]);
  return body;
}

/** POST, sent again only when the answer proves nothing was created; any other lost answer is UNKNOWN_OUTCOME. */
function create(r: Run, body: Record<string, unknown>, batchId: string): Promise<BatchRecord> {
  return withRetry(
    async () => {
      try {
        return await r.api.create(body, r.ctx.signal);
      } catch (raw) {
        const err = toBatchupError(raw);
        const notCreated = POST_NOT_CREATED.includes(err.status ?? 0) || (err.code === 'NETWORK' && NOT_SENT.test(err.message));
        if (notCreated || !err.retryable || err.code === 'INTERRUPTED') throw err;
        throw new BatchupError('UNKNOWN_OUTCOME', `the answer to the batch's POST was lost (${err.message}): the server may have created it`, {
          retryable: false,
          cause: err,
        });
      }
    },
    { policy: r.ctx.retry, signal: r.ctx.signal, onRetry: r.ctx.onRetry(batchId, 'create batch') },
  );
}

async function runBatch(batch: BatchPlan, r: Run): Promise<ManifestEntry[]> {
  const { ctx } = r;
  const it = batch.items[0]!;
  const p = payloadOf(it);
  const renders = (p.body.renders as unknown[]).length;
  const startedAt = new Date(ctx.now()).toISOString();
  ctx.emit({ type: 'batch-start', batchId: batch.batchId, mode: batch.mode, files: renders, bytes: 0 });

  const key = handleKey(ctx.endpoint, it.source, p);
  const force = !!ctx.run.force || ctx.options.resubmit.includes(p.ref);
  // Renders completed by an earlier batch of this content (whose other renders failed) are not sent again.
  const carried = force ? {} : (ctx.state.get<Record<string, ManifestEntry>>(`${key}:done`) ?? {});
  const fresh = force || !ctx.state.get<{ id?: string }>(key);
  if (fresh)
    ctx.state.put(
      `${key}:owed`,
      Array.from({ length: renders }, (_, i) => i).filter((i) => !carried[i]),
    );
  const owed = ctx.state.get<number[]>(`${key}:owed`) ?? [];

  let created: BatchRecord | undefined;
  let id: string;
  try {
    ({ id } = await submitOnce({
      state: ctx.state,
      key,
      now: ctx.now,
      lostAnswer: 'fail',
      force,
      async submit() {
        created = await create(r, await bodyToSend(p, owed, r), batch.batchId);
        return created.batchId;
      },
    }));
  } catch (raw) {
    const err = toBatchupError(raw);
    if (err.code !== 'UNKNOWN_OUTCOME') throw err;
    throw new BatchupError(
      'UNKNOWN_OUTCOME',
      `${err.message.replace(/ \(to submit it again anyway, use --force\)$/, '')} — check the vendor's records for ref '${p.ref}'; to send it again: --resubmit ${p.ref}`,
      {
        retryable: false,
        cause: err,
      },
    );
  }
  if (created) ctx.emit({ type: 'batch-submitted', batchId: batch.batchId, mode: batch.mode, attempt: 0 });

  const final = await waitForBatch({ api: r.api, ctx, batch, source: it.source, remoteId: id, receiver: r.receiver }, created);
  const finishedAt = new Date(ctx.now()).toISOString();
  const entries: ManifestEntry[] = [];
  for (let i = 0; i < renders; i++) {
    const pos = owed.indexOf(i);
    entries.push(carried[i] ?? renderEntry(it, final, pos < 0 ? undefined : final.renders[pos], i, startedAt, finishedAt));
  }
  const done = Object.fromEntries(entries.flatMap((e, i) => (e.status === 'uploaded' ? [[String(i), e]] : [])));
  const complete = entries.every((e) => e.status === 'uploaded');
  // Kept before the handle goes: a crash in between adopts the same batch again, which is harmless.
  if (!complete) ctx.state.put(`${key}:done`, done);
  ctx.settle(it, entries, complete ? [key, `${key}:owed`, `${key}:done`] : [key, `${key}:owed`]);
  return entries;
}

function renderEntry(it: Item, b: BatchRecord, r: RenderRecord | undefined, index: number, startedAt: string, finishedAt: string): ManifestEntry {
  const p = payloadOf(it);
  const base: ManifestEntry = {
    ...inputEntry('blurb', it, { batchId: b.batchId, mode: 'render', index, startedAt }),
    source: `${it.source}!/${index}`,
    name: `${p.ref}-${index}`,
  };
  if (!r) return failedEntry(base, { code: 'PROTOCOL', message: `batch ${b.batchId} has no render for renders[${index}]` }, finishedAt);
  const done = { id: r.renderId, remote: r as Record<string, unknown> };
  if (isDone(r.status) && typeof r.renderUrl === 'string' && /^https?:\/\//i.test(r.renderUrl)) {
    return uploadedEntry(base, { ...done, url: r.renderUrl }, finishedAt);
  }
  const why = isDone(r.status) ? 'completed without a renderUrl' : `render ${r.renderId} ${r.status}${r.message ? `: ${r.message}` : ''}`;
  return failedEntry({ ...base, ...done }, { code: isDone(r.status) ? 'PROTOCOL' : 'REMOTE', message: why }, finishedAt);
}
