/**
 * One aihub file: a PUT up to 10 MiB; above, a multipart session (the server picks part_size;
 * parts strictly in order within a session — PARTS_IN_ORDER in contract.ts — through the part
 * engine with concurrency 1). The session and every acknowledged part are kept in the run's
 * durable state, so a rerun resumes it; a session the server no longer knows is started again.
 * A session is aborted when its file fails for good, but kept when the run is interrupted (that
 * is what the rerun resumes).
 */
import { hashedFileBody } from '../../core/bodies.js';
import { BatchupError, toBatchupError, usageError } from '../../core/errors.js';
import { isNotFound } from '../../core/http.js';
import { planParts, sendParts } from '../../core/parts.js';
import type { ProviderContext } from '../../core/provider.js';
import { withRetry, type RetryInfo } from '../../core/retry.js';
import type { Item } from '../../core/types.js';
import type { AihubApi, Session } from './api.js';
import { LIMITS, type PartAck } from './contract.js';
import { findFile } from './ops.js';
import type { AihubOptions } from './options.js';

type OnRetry = (info: RetryInfo) => void;

export const isMultipart = (it: Pick<Item, 'size'>) => (it.size ?? 0) > LIMITS.putMaxBytes;

export const sessionKey = (endpoint: string, batchId: string, it: Pick<Item, 'source' | 'name'>) =>
  `aihub:session:${endpoint.replace(/\/+$/, '')}|${batchId}|${it.name}|${it.source}`;

interface SavedSession {
  url: string;
  id: string;
  partSize: number;
  size: number;
  mtimeMs?: number;
  /** part_num → latest part_id. */
  parts: Record<string, string | number>;
}

export interface Uploaded {
  upload: 'put' | 'multipart';
  sha256?: string;
  session?: Session;
  parts?: number;
  resumedParts?: number;
  /** Found on the server: a dead run's upload went through (not sent again). */
  adopted?: boolean;
  /** The state keys of this upload, dropped once the file is settled. */
  handles: string[];
}

/** One file to send to the server's batch `batchId`, and what sending it needs. */
interface FileUpload {
  api: AihubApi;
  batchId: string;
  it: Item;
  ctx: ProviderContext<AihubOptions>;
  onRetry: OnRetry;
}

/** What the journal keeps while a PUT is under way: a rerun that finds it asks the server whether it went through. */
interface PendingPut {
  size: number;
  mtimeMs?: number;
  /** When the PUT started (ms since epoch). */
  at: number;
}

export const putKey = (endpoint: string, batchId: string, it: Pick<Item, 'source' | 'name'>) =>
  `aihub:put:${endpoint.replace(/\/+$/, '')}|${batchId}|${it.name}|${it.source}`;

/** Seconds or milliseconds since the epoch (the vendor documents seconds) → milliseconds. */
const epochMs = (t: unknown) => (typeof t === 'number' && t > 0 ? (t > 1e11 ? t : t * 1000) : undefined);

/** Clocks of client and server differ a little: a file modified this much before our PUT began may still be ours. */
const CLOCK_SKEW_MS = 5_000;

export async function uploadFile(u: FileUpload, planId: string): Promise<Uploaded> {
  const { api, batchId, it, ctx, onRetry } = u;
  const size = it.size!;
  const progress = (sent: number, resumed = 0) =>
    ctx.emit({ type: 'file-progress', batchId: planId, source: it.source, sent, total: size, ...(resumed ? { resumed } : {}) });
  if (isMultipart(it)) return multipart(u, progress);

  const key = putKey(ctx.endpoint, batchId, it);
  const pending = ctx.state.get<PendingPut>(key);
  if (pending && pending.size === size && pending.mtimeMs === it.mtimeMs) {
    // A dead run was sending this file: if the server has it, of this size, written since then, it went through.
    const node = await withRetry(() => findFile(api, batchId, it.name, ctx.signal), { policy: ctx.retry, signal: ctx.signal, onRetry });
    const meta = node?.metadata as { modified_timestamp?: unknown } | undefined;
    const modified = epochMs(meta?.modified_timestamp ?? node?.modified_timestamp);
    if (node && Number(node.size) === size && modified !== undefined && modified >= pending.at - CLOCK_SKEW_MS) {
      progress(size, size);
      return { upload: 'put', adopted: true, handles: [key] };
    }
  }
  ctx.state.put(key, { size, mtimeMs: it.mtimeMs, at: ctx.now() } satisfies PendingPut);
  const sha256 = await withRetry(
    async () => {
      const body = hashedFileBody(it.path!, size, progress);
      await api.putFile(batchId, it.name, body, ctx.signal);
      return body.sha256();
    },
    { policy: ctx.retry, signal: ctx.signal, onRetry },
  );
  return { upload: 'put', sha256, handles: [key] };
}

async function multipart(u: FileUpload, progress: (sent: number, resumed?: number) => void): Promise<Uploaded> {
  const { api, batchId, it, ctx, onRetry } = u;
  const budget = ctx.memory;
  const size = it.size!;
  const key = sessionKey(ctx.endpoint, batchId, it);
  let saved = ctx.state.get<SavedSession>(key);
  if (saved && (saved.size !== size || (saved.mtimeMs ?? it.mtimeMs) !== it.mtimeMs)) {
    // The file changed since that session began: its parts are worthless.
    const stale = saved;
    await api.abortSession(stale, ctx.signal).catch(() => undefined);
    ctx.state.put(key, null);
    saved = undefined;
  }

  for (let round = 0; ; round++) {
    const resumed = saved !== undefined;
    const session: Session = saved
      ? { url: saved.url, id: saved.id, partSize: saved.partSize }
      : await withRetry(() => api.startSession(batchId, it.name, size, ctx.signal), { policy: ctx.retry, signal: ctx.signal, onRetry });
    const acked = new Map<number, string | number>(saved ? Object.entries(saved.parts).map(([k, v]) => [Number(k), v]) : []);
    const record = () =>
      ctx.state.put(key, {
        url: session.url,
        id: session.id,
        partSize: session.partSize,
        size,
        mtimeMs: it.mtimeMs,
        parts: Object.fromEntries(acked),
      } satisfies SavedSession);
    if (!resumed) record();

    const all = planParts(size, session.partSize);
    // Parts go in order: resume after the acknowledged prefix (anything past a gap is sent again).
    let prefix = 0;
    while (acked.has(prefix + 1)) prefix++;
    for (const n of [...acked.keys()]) if (n > prefix || n > all.length) acked.delete(n);
    const todo = all.filter((p) => p.number > prefix);
    const resumedBytes = all.filter((p) => p.number <= prefix).reduce((n, p) => n + p.size, 0);
    if (resumedBytes) progress(resumedBytes, resumedBytes);

    try {
      const memory = session.partSize <= budget.maxBytes ? budget : undefined;
      if (!memory && ctx.run.maxMemory !== undefined) {
        throw usageError(`aihub chose parts of ${session.partSize} bytes, more than --max-memory (${budget.maxBytes} bytes)`);
      }
      const r = await sendParts<PartAck>({
        path: it.path!,
        size,
        parts: todo,
        concurrency: 1, // PARTS_IN_ORDER (contract.ts)
        send: (part, body, signal) => api.putPart(session, part.number, body, signal),
        onAck: (part, ack) => {
          acked.set(part.number, ack.part_id);
          record();
        },
        onProgress: (bytes) => progress(resumedBytes + bytes, resumedBytes),
        onRetry: (part, error, attempt, delayMs) =>
          onRetry({
            attempt,
            delayMs,
            error: new BatchupError(error.code, `part ${part.number}: ${error.message}`, { retryable: error.retryable, status: error.status }),
          }),
        retry: ctx.retry,
        signal: ctx.signal,
        memory,
        hash: true,
      });
      const parts = all.map((p) => ({ part_num: p.number, part_id: acked.get(p.number)! }));
      await commit(api, batchId, it, session, parts, ctx, onRetry, resumed && todo.length === 0);
      // The session handle stays until the file is settled: a rerun after a crash right here
      // commits again, learns the session is gone and finds the file (see commit()).
      return { upload: 'multipart', sha256: r.sha256, session, parts: all.length, resumedParts: prefix, handles: [key] };
    } catch (raw) {
      const err = toBatchupError(raw);
      if (resumed && round === 0 && isNotFound(err)) {
        // The server forgot the session (expired, restarted): start a new one.
        ctx.state.put(key, null);
        saved = undefined;
        continue;
      }
      if (err.code !== 'INTERRUPTED' && !ctx.signal?.aborted) {
        await api.abortSession(session).catch(() => undefined);
        ctx.state.put(key, null);
      }
      throw err;
    }
  }
}

/**
 * Commit with the latest part ids. If a commit whose answer was lost went through, the session is
 * gone (404): the file is then looked up in the batch and accepted when it has the right size.
 */
async function commit(
  api: AihubApi,
  batchId: string,
  it: Item,
  session: Session,
  parts: PartAck[],
  ctx: ProviderContext<AihubOptions>,
  onRetry: OnRetry,
  mayBeCommitted: boolean,
): Promise<void> {
  await withRetry(
    async (attempt) => {
      try {
        await api.commitSession(session, parts, ctx.signal);
      } catch (err) {
        if (isNotFound(err) && (attempt > 0 || mayBeCommitted)) {
          const node = await findFile(api, batchId, it.name, ctx.signal);
          if (node && Number(node.size) === it.size) return;
        }
        throw err;
      }
    },
    { policy: ctx.retry, signal: ctx.signal, onRetry },
  );
}
