/**
 * Waiting for one batch's renders to end, by either
 * - polling `GET /v1/batches/{id}` with backoff (core/poll.ts: at most 1 s apart while progress
 *   moves, timed for the predicted finish), or
 * - webhooks: a GET only after a webhook for the batch, or after the slow safety poll when none
 *   came (a lost webhook) — never a payload's word.
 * Every change of a render (status, progress, message) is reported as a `render-progress` event.
 */
import { BatchupError } from '../../core/errors.js';
import { pollUntil } from '../../core/poll.js';
import type { BatchPlan, ProviderContext } from '../../core/provider.js';
import { pollSettings } from '../../core/provider.js';
import { sleep, withRetry } from '../../core/retry.js';
import type { BlurbApi } from './api.js';
import { type BatchRecord, isFinal } from './contract.js';
import type { BlurbOptions } from './options.js';
import type { WebhookReceiver } from './receiver.js';

export const allFinal = (b: BatchRecord) => b.renders.length > 0 && b.renders.every((r) => isFinal(r.status));

export interface Waiting {
  api: BlurbApi;
  ctx: ProviderContext<BlurbOptions>;
  batch: BatchPlan;
  /** `<spec>#<ref>`: a render's source is this plus `!/<index>`. */
  source: string;
  remoteId: string;
  receiver?: WebhookReceiver;
}

/** Reports what changed since the last look. */
function reporter(w: Waiting): (b: BatchRecord) => void {
  const last = new Map<string, string>();
  return (b) => {
    b.renders.forEach((r, i) => {
      const progress = typeof r.progress === 'number' ? r.progress : 0;
      const message = typeof r.message === 'string' && r.message ? r.message : undefined;
      const key = `${r.status}\0${progress}\0${message ?? ''}`;
      if (last.get(r.renderId) === key) return;
      last.set(r.renderId, key);
      w.ctx.emit({ type: 'render-progress', batchId: w.batch.batchId, renderId: r.renderId, source: `${w.source}!/${i}`, status: r.status, progress, message });
    });
    w.ctx.emit({
      type: 'poll',
      batchId: w.batch.batchId,
      status: b.status,
      processed: b.renders.filter((r) => isFinal(r.status)).length,
      total: b.renders.length,
    });
  };
}

/** The batch once every render is final. `first`: what the POST answered (undefined for an adopted batch). */
export async function waitForBatch(w: Waiting, first?: BatchRecord): Promise<BatchRecord> {
  const { ctx, api, remoteId } = w;
  const report = reporter(w);
  const onRetry = ctx.onRetry(w.batch.batchId, `batch ${remoteId}`);
  const get = () => api.get(remoteId, ctx.signal);
  if (first) report(first);
  if (first && allFinal(first)) return first;

  if (!w.receiver) {
    if (first) await sleep(ctx.run.poll.initialMs, ctx.signal);
    return pollUntil<BatchRecord>({
      fetch: get,
      done: allFinal,
      onUpdate: report,
      progressKey: (b) => b.renders.map((r) => `${r.status}:${r.progress ?? 0}`).join(','),
      progress: (b) => ({ done: b.renders.reduce((n, r) => n + (isFinal(r.status) ? 100 : (r.progress ?? 0)), 0), total: 100 * b.renders.length }),
      ...pollSettings(ctx, onRetry),
    });
  }

  const receiver = w.receiver;
  const safetyMs = ctx.options.webhook!.safetyPollMs;
  const deadline = Date.now() + ctx.run.poll.timeoutMs;
  receiver.watch(remoteId);
  try {
    // An adopted batch may have sent its webhooks while no run listened: ask once at the start.
    let b = first ?? (await withRetry(get, { policy: ctx.retry, signal: ctx.signal, onRetry }));
    if (!first) report(b);
    while (!allFinal(b)) {
      if (Date.now() > deadline) {
        throw new BatchupError('REMOTE', `gave up waiting after ${Math.round(ctx.run.poll.timeoutMs / 1000)} s for the renders to finish`, {
          retryable: false,
        });
      }
      await receiver.next(remoteId, safetyMs, ctx.signal);
      if (ctx.signal.aborted) throw new BatchupError('INTERRUPTED', 'interrupted', { retryable: false });
      b = await withRetry(get, { policy: ctx.retry, signal: ctx.signal, onRetry });
      report(b);
    }
    return b;
  } finally {
    receiver.forget(remoteId);
  }
}
