/**
 * Parts arriving: a presigned PUT (no Authorization: one that carries it is refused and
 * counted; a changed URL answers 403, an expired one 403 and marks its chunk failed) or the
 * server-proxied `POST /chunk/:uploadId/:chunkIndex`. A part is never buffered: it streams to its
 * offset in the upload's data file while its CRC-32 is computed. A PUT that breaks off, is cut by
 * a fault or has the wrong length marks the chunk failed (it shows in /progress `failedChunks` and
 * in /verify with isComplete false).
 */
import busboy from 'busboy';
import { LIMITS, MESSAGES } from '../../../providers/hybrid/contract.js';
import type { RequestContext } from '../../kit/context.js';
import type { FaultKind } from '../../kit/faults.js';
import { advanceHash } from './hash-frontier.js';
import { authorized, fail } from './replies.js';
import type { HybridState } from './state.js';
import { partSize, type Upload } from './uploads.js';
import { writeBody } from './write-body.js';

/**
 * One part arrives: stream it to its offset, then record it stored or failed, and answer.
 * `declared` is the Content-Length, when known.
 */
async function receivePart(
  h: HybridState,
  ctx: RequestContext,
  u: Upload,
  n: number,
  source: AsyncIterable<Buffer>,
  declared: number | undefined,
  fault: FaultKind | null,
): Promise<void> {
  const { counters, uploads } = h;
  const expected = partSize(u, n);
  const markFailed = (bytes: number) => uploads.record(u, { t: 'fail', n, bytes });
  if (declared !== undefined && declared > LIMITS.maxChunkBytes) {
    counters.partRefused();
    markFailed(0);
    return fail(ctx, 400, MESSAGES.chunkTooLarge);
  }
  if (declared !== undefined && declared !== expected) {
    counters.partRefused();
    markFailed(0);
    return fail(ctx, 400, MESSAGES.wrongChunkSize(n, expected, declared));
  }
  if (u.busy.has(n)) {
    counters.partRefused();
    return fail(ctx, 409, MESSAGES.partBusy(n));
  }
  // Injected part faults that answer without storing anything.
  if (fault === '500' || fault === '503' || fault === '429') {
    counters.partRefused();
    markFailed(0);
    const headers: Record<string, string> = fault === '429' ? { 'retry-after': String(h.partFaults.options.retryAfterSec) } : {};
    return fail(ctx, Number(fault), `Injected by the sandbox: HTTP ${fault}`, headers);
  }
  if (fault === 'slow') ctx.delayMs = h.partFaults.options.slowMs;
  if (fault === 'lost') ctx.lost = true;

  // Overwriting a part the whole-file hash already read (or is reading) invalidates it.
  if (u.parts.has(n) && n <= u.hashedParts + 1) u.dirty = true;
  u.parts.delete(n);
  u.busy.add(n);
  const socket = ctx.req.socket; // closing the body iterator early detaches it from the request
  try {
    const cutAt = fault === 'cut' ? Math.floor(expected / 2) : fault === 'reset' ? Math.min(expected - 1, 64 * 1024) : undefined;
    const r = await writeBody(source, u.dataPath, (n - 1) * u.chunkSize, expected, 'crc32', cutAt);
    counters.partReceived(u.uploadId, n, r.bytes);
    if (r.cut || r.broken) {
      markFailed(r.bytes);
      socket?.destroy();
      ctx.destroy();
      return;
    }
    if (r.tooLarge || r.bytes !== expected) {
      markFailed(r.bytes);
      return fail(ctx, 400, MESSAGES.wrongChunkSize(n, expected, r.bytes));
    }
    uploads.record(u, { t: 'ok', n, size: r.bytes, crc32: r.digest });
    u.busy.delete(n);
    advanceHash(u, h.core.log);
    return ctx.send(200, { etag: `"${r.digest}"`, 'content-length': 0 }, '');
  } finally {
    u.busy.delete(n);
  }
}

/** `PUT /_presigned/hybrid/:uploadId/:partNumber?expires&signature`. */
export function presignedPut(h: HybridState) {
  return async (ctx: RequestContext): Promise<void> => {
    const { uploadId = '', partNumber = '' } = ctx.params;
    if (ctx.req.headers.authorization !== undefined) {
      h.counters.presignedWithAuth++;
      return fail(ctx, 400, MESSAGES.twoAuth);
    }
    const q = ctx.url.searchParams;
    const expires = q.get('expires') ?? '';
    if (!h.presign.signatureOk(uploadId, partNumber, expires, q.get('signature') ?? '')) return fail(ctx, 403, MESSAGES.urlInvalid);
    const u = h.uploads.get(uploadId);
    if (!u) return fail(ctx, 404, MESSAGES.notFound);
    const n = Number(partNumber);
    if (!(n >= 1 && n <= u.totalChunks)) return fail(ctx, 400, MESSAGES.badChunkIndex(partNumber));
    if (h.presign.expired(expires)) {
      h.counters.partRefused();
      if (!u.busy.has(n) && !u.parts.has(n)) h.uploads.record(u, { t: 'fail', n, bytes: 0 });
      return fail(ctx, 403, MESSAGES.urlExpired);
    }
    const cl = ctx.req.headers['content-length'];
    const declared = cl === undefined ? undefined : Number(cl);
    const fault = h.partFaults.next();
    if (fault) h.core.stats.fault(`part-${fault}`);
    return receivePart(h, ctx, u, n, ctx.req as AsyncIterable<Buffer>, Number.isFinite(declared) ? declared : undefined, fault);
  };
}

/** `POST /chunk/:uploadId/:chunkIndex`: the server-proxied alternative, multipart field `chunk`. */
export function proxiedChunk(h: HybridState) {
  return async (ctx: RequestContext): Promise<void> => {
    if (!(await authorized(ctx))) return;
    const u = h.uploads.get(ctx.params.uploadId ?? '');
    if (!u) return fail(ctx, 404, MESSAGES.notFound);
    const idx = ctx.params.chunkIndex ?? '';
    if (!/^\d{1,9}$/.test(idx) || Number(idx) >= u.totalChunks) return fail(ctx, 400, MESSAGES.badChunkIndex(idx));
    let bb: busboy.Busboy;
    try {
      bb = busboy({ headers: ctx.req.headers, limits: { files: 1, fields: 10, fileSize: LIMITS.maxChunkBytes + 1 } });
    } catch {
      return fail(ctx, 400, MESSAGES.noChunkField);
    }
    let handled: Promise<void> | undefined;
    bb.on('file', (field, stream) => {
      if (field !== 'chunk' || handled) {
        stream.resume();
        return;
      }
      handled = receivePart(h, ctx, u, Number(idx) + 1, stream as AsyncIterable<Buffer>, undefined, null);
    });
    const closed = new Promise<void>((resolve) => {
      bb.on('close', resolve);
      bb.on('error', () => resolve());
      ctx.req.on('close', () => resolve());
    });
    ctx.req.pipe(bb);
    await closed;
    if (handled) return handled;
    return fail(ctx, 400, MESSAGES.noChunkField);
  };
}
