/**
 * hybrid's routes: init, the part uploads (parts.ts), progress, retry, verify and complete.
 * Limits and messages come from the shared contract (src/providers/hybrid/contract.ts).
 *
 * Completed: the file goes into the content store, served at `/cdn/<sha256>.<ext>`; the record is
 * `{id, title, video_path: "/cdn/…", status: "processing", size, sha256}` and is kept (in
 * `hybrid/records/`) so a repeated complete answers it again. Progress/verify of it answer 404.
 *
 * `PUT /_sandbox/hybrid/raw/:name` streams a body through the same write path into the store with
 * no protocol around it: the `curl -T` baseline of bench/hybrid.js.
 */
import { randomUUID } from 'node:crypto';
import { extname, join } from 'node:path';
import {
  HYBRID_BASE,
  LIMITS,
  MESSAGES,
  type ProgressData,
  type RetryUrl,
  type UploadSession,
  type VerifyPart,
  type VideoRecord,
} from '../../../providers/hybrid/contract.js';
import type { RequestContext } from '../../kit/context.js';
import { readJson, JsonBodyError } from '../../kit/json-body.js';
import type { Protocol, SandboxCore } from '../../kit/protocol.js';
import { JsonRecords } from '../../kit/records.js';
import { wholeHash } from './hash-frontier.js';
import { presignedPut, proxiedChunk } from './parts.js';
import { PRESIGNED_BASE, Presigner } from './presign.js';
import { authorized, fail, ok } from './replies.js';
import { HybridCounters, type HybridState } from './state.js';
import { PART_FAULT_SEED_OFFSET, type HybridOptions, type HybridStats } from './types.js';
import { Uploads, type SessionFile, type Upload } from './uploads.js';
import { writeBody } from './write-body.js';

type StoredRecord = VideoRecord & { uploadId: string };

export async function createHybrid(core: SandboxCore, options: HybridOptions): Promise<Protocol<HybridStats>> {
  const root = join(core.dataDir, 'hybrid');
  const uploads = await Uploads.load(join(root, 'uploads'), core.log);
  const records = await JsonRecords.open<StoredRecord>(join(root, 'records'), {
    idOf: (r) => r.uploadId,
    fileNameOf: (id) => id,
    accept: (raw): raw is StoredRecord => typeof (raw as StoredRecord)?.uploadId === 'string',
    log: (line) => core.log(`hybrid: ${line}`),
  });
  const h: HybridState = {
    core,
    uploads,
    presign: await Presigner.open(join(root, 'presign.key'), core.origin, options.presignTtlSec, core.now),
    partFaults: core.faultSequence(options.partFaultRate, options.partFaultKinds, PART_FAULT_SEED_OFFSET),
    counters: new HybridCounters(),
  };
  const completing = new Set<string>();

  const uploadOr404 = async (ctx: RequestContext): Promise<Upload | undefined> => {
    const u = uploads.get(ctx.params.uploadId ?? '');
    if (!u) await fail(ctx, 404, MESSAGES.notFound);
    return u;
  };

  async function init(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    let body: { channel_id?: unknown; channelId?: unknown; files?: unknown };
    try {
      body = (await readJson(ctx, { object: false })) as typeof body;
    } catch (err) {
      const why = err instanceof JsonBodyError && err.problem === 'malformed' ? err.detail : (err as Error).message;
      return fail(ctx, 400, `Invalid request body: ${why}`);
    }
    const files = body && typeof body === 'object' ? body.files : undefined;
    if (!Array.isArray(files) || files.length === 0) return fail(ctx, 400, MESSAGES.noFiles);
    if (files.length > LIMITS.maxFilesPerInit) return fail(ctx, 400, MESSAGES.tooManyFiles(LIMITS.maxFilesPerInit));
    const channel = body.channel_id ?? body.channelId;
    for (const [i, f] of files.entries()) {
      const { filename, size, type } = (f ?? {}) as { filename?: unknown; size?: unknown; type?: unknown };
      if (typeof filename !== 'string' || !filename || typeof size !== 'number' || !Number.isSafeInteger(size) || size <= 0) {
        return fail(ctx, 400, MESSAGES.badFile(i + 1));
      }
      if (typeof type !== 'string' || !/^video\/[\w.+-]+$/i.test(type)) return fail(ctx, 400, MESSAGES.unsupportedType(String(type ?? ''), filename));
    }
    const sessions: UploadSession[] = [];
    for (const f of files as { filename: string; size: number; type: string }[]) {
      const isChunked = f.size > LIMITS.singleMaxBytes;
      const s: SessionFile = {
        uploadId: randomUUID(),
        fileId: randomUUID(),
        filename: f.filename,
        size: f.size,
        type: f.type,
        channelId: channel === undefined || channel === null ? undefined : String(channel),
        isChunked,
        totalChunks: isChunked ? Math.ceil(f.size / LIMITS.chunkSize) : 1,
        chunkSize: isChunked ? LIMITS.chunkSize : f.size,
        createdAt: core.now(),
      };
      await uploads.create(s);
      sessions.push({
        uploadId: s.uploadId,
        fileId: s.fileId,
        isChunked,
        totalChunks: s.totalChunks,
        chunkSize: LIMITS.chunkSize,
        presignedUrls: Array.from({ length: s.totalChunks }, (_, i) => h.presign.url(s.uploadId, i + 1)),
        status: 'initialized',
      });
    }
    return ok(ctx, sessions);
  }

  async function progress(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    const u = await uploadOr404(ctx);
    if (!u) return;
    let received = 0;
    for (const p of u.parts.values()) received += p.size;
    const data: ProgressData = {
      uploadId: u.uploadId,
      filename: u.filename,
      progress: Math.floor((100 * received) / u.size),
      status: u.parts.size === u.totalChunks ? 'completed' : u.failed.size ? 'error' : u.parts.size ? 'uploading' : 'initialized',
      failedChunks: [...u.failed].sort((a, b) => a - b),
      totalChunks: u.totalChunks,
      completedCount: u.parts.size,
    };
    return ok(ctx, data);
  }

  async function retry(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    const u = await uploadOr404(ctx);
    if (!u) return;
    const missing = ['1', 'true'].includes(ctx.url.searchParams.get('missing') ?? '');
    const chunks = new Set(u.failed);
    if (missing) for (let n = 1; n <= u.totalChunks; n++) if (!u.parts.has(n)) chunks.add(n - 1);
    const data: RetryUrl[] = [...chunks].sort((a, b) => a - b).map((i) => ({ chunkIndex: i, url: h.presign.url(u.uploadId, i + 1) }));
    return ok(ctx, data);
  }

  async function verify(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    const u = await uploadOr404(ctx);
    if (!u) return;
    const data: VerifyPart[] = [];
    for (const [n, p] of u.parts) data.push({ partNumber: n, eTag: `"${p.crc32}"`, size: p.size, isComplete: true });
    for (const [n, bytes] of u.partial) if (!u.parts.has(n)) data.push({ partNumber: n, eTag: '', size: bytes, isComplete: false });
    data.sort((a, b) => a.partNumber - b.partNumber);
    return ok(ctx, data);
  }

  async function complete(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    const id = ctx.params.uploadId ?? '';
    const done = records.get(id);
    if (done) return ok(ctx, withoutUploadId(done));
    const u = uploads.get(id);
    if (!u || completing.has(id)) return fail(ctx, 404, MESSAGES.notFound);
    const missing: number[] = [];
    for (let n = 1; n <= u.totalChunks; n++) if (!u.parts.has(n)) missing.push(n);
    if (missing.length) return fail(ctx, 400, MESSAGES.missingParts(missing));
    completing.add(id);
    uploads.take(id); // no more PUTs, progress or verify for it
    try {
      await u.log;
      const sha256 = (u.sha256 ??= await wholeHash(u, core.log));
      const ext = extname(u.filename)
        .slice(1)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, '')
        .slice(0, 10);
      if (!u.committed) {
        await core.store.commit({ path: u.dataPath, sha256, size: u.size, overLimit: false, head: Buffer.alloc(0) });
        u.committed = true;
        core.stats.receipt(sha256);
      }
      const rec: VideoRecord = {
        id: randomUUID(),
        title: u.filename.replace(/\.[^.]*$/, '') || u.filename,
        video_path: new URL(core.cdnUrl(sha256, ext)).pathname,
        status: 'processing',
        size: u.size,
        sha256,
      };
      await records.put({ ...rec, uploadId: id });
      await uploads.remove(u);
      return ok(ctx, rec);
    } catch (err) {
      uploads.restore(u);
      throw err;
    } finally {
      completing.delete(id);
    }
  }

  async function raw(ctx: RequestContext): Promise<void> {
    const tmp = core.store.tempPath();
    const r = await writeBody(ctx.req as AsyncIterable<Buffer>, tmp, 0, Infinity, 'sha256');
    if (r.broken) {
      await core.store.discard(tmp);
      return;
    }
    const stored = await core.store.commit({ path: tmp, sha256: r.digest, size: r.bytes, overLimit: false, head: Buffer.alloc(0) });
    return ctx.json(200, { sha256: stored.sha256, size: stored.size, url: core.cdnUrl(stored.sha256, '') }, { etag: `"${stored.sha256}"` });
  }

  return {
    routes: [
      { method: 'POST', path: `${HYBRID_BASE}/init`, name: 'hybrid.init', faults: true, handle: init },
      { method: 'POST', path: `${HYBRID_BASE}/chunk/:uploadId/:chunkIndex`, name: 'hybrid.chunk', faults: true, handle: proxiedChunk(h) },
      { method: 'GET', path: `${HYBRID_BASE}/progress/:uploadId`, name: 'hybrid.progress', faults: true, handle: progress },
      { method: 'POST', path: `${HYBRID_BASE}/retry/:uploadId`, name: 'hybrid.retry', faults: true, handle: retry },
      { method: 'GET', path: `${HYBRID_BASE}/verify/:uploadId`, name: 'hybrid.verify', faults: true, handle: verify },
      { method: 'POST', path: `${HYBRID_BASE}/complete/:uploadId`, name: 'hybrid.complete', faults: true, handle: complete },
      // Faults of presigned PUTs come from the protocol's own sequence, applied by the handler (it records failed chunks).
      { method: 'PUT', path: `${PRESIGNED_BASE}/:uploadId/:partNumber`, name: 'hybrid.put', handle: presignedPut(h) },
      { method: 'PUT', path: '/_sandbox/hybrid/raw/:name', name: 'hybrid.raw', counted: false, handle: raw },
    ],
    errorBody: (_status, message) => ({ success: false, message }),
    batchCount: () => uploads.size + records.size,
    stats: () => h.counters.snapshot(),
    inspectBatch(id) {
      const u = uploads.get(id);
      if (u) {
        return {
          uploadId: u.uploadId,
          filename: u.filename,
          size: u.size,
          totalChunks: u.totalChunks,
          chunkSize: u.chunkSize,
          received: [...u.parts.keys()].sort((a, b) => a - b),
          failedChunks: [...u.failed].sort((a, b) => a - b),
          status: 'open',
        };
      }
      const r = records.get(id);
      return r ? { uploadId: id, status: 'completed', record: withoutUploadId(r) } : undefined;
    },
    async close() {
      await uploads.close();
      await records.flush();
    },
  };
}

function withoutUploadId(r: StoredRecord): VideoRecord {
  const { uploadId: _u, ...rest } = r;
  return rest;
}
