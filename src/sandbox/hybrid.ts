/**
 * hybrid (seed 003, protocols/hybrid.md): batch init, presigned part PUTs, progress, retry of
 * failed chunks, verify, complete. Limits and messages come from the shared contract
 * (src/providers/hybrid/contract.ts).
 *
 * Presigned URLs: `${origin}/_presigned/hybrid/<uploadId>/<partNumber>?expires=<ms>&signature=<hmac>`,
 * HMAC-SHA256 over method, upload, part and expiry with a key kept per data folder
 * (`hybrid/presign.key`, made on first start), so a URL is bound to its upload and part and dies
 * after `presignTtlSec`: a changed or expired URL answers 403 (an expired one also marks its chunk
 * failed). A presigned PUT that also carries an Authorization header is refused (400) and counted.
 *
 * Storage, per upload in `hybrid/uploads/<uploadId>/`: `session.json` (written at init), `data`
 * (the file being assembled: every part is streamed straight to its offset, so `complete` is a
 * rename into the content store, not a copy of gigabytes) and `parts.log` (one JSON line per part
 * PUT outcome: stored with size and CRC-32 — the part's ETag —, or failed with the bytes that
 * arrived), replayed when
 * the sandbox starts on the same folder. A part PUT is never buffered: it streams to disk while
 * its CRC-32 is computed (a second sha256 per part would only cost CPU: the whole file's sha256
 * is what the record carries). A PUT that breaks off, is cut by a fault or has the wrong length marks
 * the chunk failed (it shows in /progress `failedChunks` and /verify with isComplete false).
 * The whole file's sha256 is computed in the background as soon as the parts in front are in
 * (a frontier that re-reads them from the page cache, on the hashing thread: core/hash-thread.ts), so
 * `complete` rarely waits and the HTTP thread never hashes gigabytes; a part that is overwritten
 * after the frontier passed it marks the hash dirty and `complete` hashes the file again.
 *
 * Completed: the file goes into the content store, served at `/cdn/<sha256>.<ext>`; the record is
 * `{id, title, video_path: "/cdn/…", status: "processing", size, sha256}` and is kept (in
 * `hybrid/records/`) so a repeated complete answers it again. Progress/verify of it answer 404.
 *
 * `PUT /_sandbox/hybrid/raw/:name` streams a body through the same write path into the store with
 * no protocol around it: the `curl -T` baseline of bench/hybrid.js.
 */
import busboy from 'busboy';
import { createHash, createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { appendFile, mkdir, open, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import { crc32 } from 'node:zlib';
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
} from '../providers/hybrid/contract.js';
import { ThreadHash } from '../core/hash-thread.js';
import { drainOrClose } from './store.js';
import type { Protocol, ProtocolFactory, RequestContext, SandboxCore } from './server.js';

export const PRESIGNED_BASE = '/_presigned/hybrid';

interface StoredPart {
  size: number;
  /** CRC-32 of the part (hex): its ETag. */
  crc32: string;
}

interface SessionFile {
  uploadId: string;
  fileId: string;
  filename: string;
  size: number;
  type: string;
  channelId?: string;
  isChunked: boolean;
  totalChunks: number;
  chunkSize: number;
  createdAt: number;
}

interface Upload extends SessionFile {
  dir: string;
  dataPath: string;
  parts: Map<number, StoredPart>;
  /** Part number → bytes that arrived on its last failed PUT. */
  partial: Map<number, number>;
  /** 0-based chunk indices whose last PUT failed. */
  failed: Set<number>;
  /** Part numbers with a PUT streaming right now. */
  busy: Set<number>;
  /** The running whole-file digest, on the process's hashing thread. */
  hash: ThreadHash;
  /** Leading parts folded into that digest. */
  hashedParts: number;
  dirty: boolean;
  hashing?: Promise<void>;
  /** Set by complete: the assembled file's digest, and whether it is in the store already. */
  sha256?: string;
  committed?: boolean;
  log: Promise<void>;
}

type LogLine = { t: 'ok'; n: number; size: number; crc32: string } | { t: 'fail'; n: number; bytes: number };

const MAX_JSON_BODY = 1024 * 1024;
const READ_HWM = 1024 * 1024;

export const createHybridProtocol: ProtocolFactory = async (core) => {
  const root = join(core.dataDir, 'hybrid');
  const uploadsDir = join(root, 'uploads');
  const recordsDir = join(root, 'records');
  await mkdir(uploadsDir, { recursive: true });
  await mkdir(recordsDir, { recursive: true });
  const key = await loadKey(join(root, 'presign.key'));
  const uploads = new Map<string, Upload>();
  const completing = new Set<string>();
  const records = new Map<string, VideoRecord>();

  // ---- start-up: what an earlier sandbox on this folder left ----
  for (const name of await readdir(recordsDir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const r = JSON.parse(await readFile(join(recordsDir, name), 'utf8')) as VideoRecord & { uploadId: string };
      records.set(r.uploadId, stripUploadId(r));
    } catch (err) {
      core.log(`hybrid: skipping unreadable record ${name}: ${String(err)}`);
    }
  }
  for (const id of await readdir(uploadsDir)) {
    try {
      const s = JSON.parse(await readFile(join(uploadsDir, id, 'session.json'), 'utf8')) as SessionFile;
      const u = newUpload(s);
      const log = await readFile(join(u.dir, 'parts.log'), 'utf8').catch(() => '');
      for (const line of log.split('\n')) {
        if (!line.trim()) continue;
        try {
          applyLog(u, JSON.parse(line) as LogLine);
        } catch {
          /* a torn last line from a crash: ignore it */
        }
      }
      u.dirty = true; // the running hash is not on disk: complete hashes the file
      uploads.set(u.uploadId, u);
    } catch (err) {
      core.log(`hybrid: skipping unreadable upload ${id}: ${String(err)}`);
    }
  }

  function newUpload(s: SessionFile): Upload {
    const dir = join(uploadsDir, s.uploadId);
    return {
      ...s,
      dir,
      dataPath: join(dir, 'data'),
      parts: new Map(),
      partial: new Map(),
      failed: new Set(),
      busy: new Set(),
      hash: new ThreadHash(),
      hashedParts: 0,
      dirty: false,
      log: Promise.resolve(),
    };
  }

  function applyLog(u: Upload, l: LogLine): void {
    if (l.t === 'ok') {
      u.parts.set(l.n, { size: l.size, crc32: l.crc32 });
      u.partial.delete(l.n);
      u.failed.delete(l.n - 1);
    } else {
      u.parts.delete(l.n);
      u.partial.set(l.n, l.bytes);
      u.failed.add(l.n - 1);
    }
  }

  function record(u: Upload, l: LogLine): void {
    applyLog(u, l);
    const next = u.log.then(() => appendFile(join(u.dir, 'parts.log'), JSON.stringify(l) + '\n'));
    u.log = next.catch((err) => core.log(`hybrid: parts.log of ${u.uploadId}: ${String(err)}`));
  }

  const partSize = (u: SessionFile, n: number) => (u.isChunked ? Math.min(u.chunkSize, u.size - (n - 1) * u.chunkSize) : u.size);

  // ---- presigned URLs ----
  const sign = (uploadId: string, n: number, expires: number) =>
    createHmac('sha256', key).update(`PUT\n${uploadId}\n${n}\n${expires}`).digest('base64url');
  const presign = (uploadId: string, n: number) => {
    const expires = Date.now() + Math.round(core.presignTtlSec * 1000);
    return `${core.origin}${PRESIGNED_BASE}/${encodeURIComponent(uploadId)}/${n}?expires=${expires}&signature=${sign(uploadId, n, expires)}`;
  };
  const signatureOk = (uploadId: string, n: string, expires: string, signature: string) => {
    if (!/^\d{1,16}$/.test(expires) || !/^\d{1,9}$/.test(n)) return false;
    const want = Buffer.from(sign(uploadId, Number(n), Number(expires)));
    const got = Buffer.from(signature);
    return want.length === got.length && timingSafeEqual(want, got);
  };

  // ---- the whole-file hash frontier ----
  function kick(u: Upload): void {
    if (u.hashing || u.dirty) return;
    const ready = () => !u.dirty && u.parts.has(u.hashedParts + 1) && !u.busy.has(u.hashedParts + 1);
    if (!ready()) return;
    u.hashing = (async () => {
      while (ready()) {
        const n = u.hashedParts + 1;
        await u.hash.updateFromFile(u.dataPath, (n - 1) * u.chunkSize, partSize(u, n));
        if (u.dirty) return;
        u.hashedParts = n;
      }
    })()
      .catch((err) => {
        u.dirty = true;
        core.log(`hybrid: hashing ${u.uploadId} failed: ${String(err)}`);
      })
      .finally(() => {
        u.hashing = undefined;
        kick(u);
      });
  }

  async function wholeHash(u: Upload): Promise<string> {
    while (u.hashing) await u.hashing;
    if (!u.dirty && u.hashedParts < u.totalChunks) {
      kick(u);
      while (u.hashing) await u.hashing;
    }
    if (u.dirty || u.hashedParts < u.totalChunks) {
      u.hash.close();
      const full = new ThreadHash();
      try {
        await full.updateFromFile(u.dataPath, 0, u.size);
        return await full.digest();
      } finally {
        full.close();
      }
    }
    return u.hash.digest();
  }

  // ---- helpers ----
  const ok = <T>(ctx: RequestContext, data: T, headers: Record<string, string> = {}) => ctx.json(200, { success: true, data }, headers);
  const fail = (ctx: RequestContext, status: number, message: string, headers: Record<string, string> = {}) =>
    ctx.refuse(status, { success: false, message }, headers);
  const authorized = async (ctx: RequestContext) => {
    if (await ctx.authorized()) return true;
    await fail(ctx, 401, MESSAGES.unauthorized);
    return false;
  };
  const uploadOr404 = async (ctx: RequestContext): Promise<Upload | undefined> => {
    const u = uploads.get(ctx.params.uploadId ?? '');
    if (!u) await fail(ctx, 404, MESSAGES.notFound);
    return u;
  };

  async function readJson(ctx: RequestContext): Promise<unknown> {
    return JSON.parse((await ctx.readBody(MAX_JSON_BODY)).toString('utf8') || 'null');
  }

  /**
   * Stream `source` into `path` at `start` (a part's offset), with a running digest: sha256 for
   * whole objects, CRC-32 for parts (their ETag: integrity of one part at a fraction of the CPU;
   * the whole file gets its sha256 from the frontier). Stops writing past `limit` bytes
   * (`tooLarge`), or at `cutAt` (a 'cut' fault). `broken`: the body ended early or errored.
   */
  async function writeBody(
    source: AsyncIterable<Buffer>,
    path: string,
    start: number,
    limit: number,
    digest: 'sha256' | 'crc32',
    cutAt?: number,
  ): Promise<{ bytes: number; digest: string; tooLarge: boolean; broken: boolean; cut: boolean }> {
    const ws = createWriteStream(path, { flags: start === 0 && limit === Infinity ? 'w' : 'r+', start, highWaterMark: READ_HWM });
    let wsError: unknown;
    ws.on('error', (err) => (wsError = err));
    const h = digest === 'sha256' ? createHash('sha256') : undefined;
    let crc = 0;
    let bytes = 0;
    let tooLarge = false;
    let broken = false;
    let cut = false;
    try {
      for await (const chunk of source) {
        let c = chunk;
        if (cutAt !== undefined && bytes + c.length >= cutAt) {
          c = c.subarray(0, Math.max(0, cutAt - bytes));
          cut = true;
        }
        if (tooLarge || bytes + c.length > limit) {
          // Keep reading (not writing) so the client can be answered 400 on a healthy connection.
          bytes += c.length;
          tooLarge = true;
          continue;
        }
        bytes += c.length;
        if (h) h.update(c);
        else crc = crc32(c, crc);
        if (!ws.write(c)) await drainOrClose(ws);
        if (wsError) throw wsError;
        if (cut) break;
      }
    } catch (err) {
      if (wsError) throw err;
      broken = true;
    } finally {
      ws.end();
      await once(ws, 'close').catch(() => undefined);
    }
    if (wsError) throw wsError;
    return { bytes, digest: h ? h.digest('hex') : (crc >>> 0).toString(16).padStart(8, '0'), tooLarge, broken, cut };
  }

  /**
   * One part arrives (presigned PUT or POST /chunk): stream it to its offset, then record it
   * stored or failed. Answers the request. `declared` is the Content-Length, when known.
   */
  async function receivePart(ctx: RequestContext, u: Upload, n: number, source: AsyncIterable<Buffer>, declared: number | undefined, fault: string | null): Promise<void> {
    const expected = partSize(u, n);
    const markFailed = (bytes: number) => record(u, { t: 'fail', n, bytes });
    if (declared !== undefined && declared > LIMITS.maxChunkBytes) {
      core.stats.partRefused();
      markFailed(0);
      return fail(ctx, 400, MESSAGES.chunkTooLarge);
    }
    if (declared !== undefined && declared !== expected) {
      core.stats.partRefused();
      markFailed(0);
      return fail(ctx, 400, MESSAGES.wrongChunkSize(n, expected, declared));
    }
    if (u.busy.has(n)) {
      core.stats.partRefused();
      return fail(ctx, 409, MESSAGES.partBusy(n));
    }
    // Injected part faults that answer without storing anything.
    if (fault === '500' || fault === '503' || fault === '429') {
      core.stats.partRefused();
      markFailed(0);
      const headers: Record<string, string> = fault === '429' ? { 'retry-after': String(core.partFaults.options.retryAfterSec) } : {};
      return fail(ctx, Number(fault), `Injected by the sandbox: HTTP ${fault}`, headers);
    }
    if (fault === 'slow') ctx.delayMs = core.partFaults.options.slowMs;
    if (fault === 'lost') ctx.lost = true;

    // Overwriting a part the whole-file hash already read (or is reading) invalidates it.
    if (u.parts.has(n) && n <= u.hashedParts + 1) u.dirty = true;
    u.parts.delete(n);
    u.busy.add(n);
    const socket = ctx.req.socket; // closing the body iterator early detaches it from the request
    try {
      const cutAt = fault === 'cut' ? Math.floor(expected / 2) : fault === 'reset' ? Math.min(expected - 1, 64 * 1024) : undefined;
      const r = await writeBody(source, u.dataPath, (n - 1) * u.chunkSize, expected, 'crc32', cutAt);
      core.stats.partReceived(u.uploadId, n, r.bytes);
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
      record(u, { t: 'ok', n, size: r.bytes, crc32: r.digest });
      u.busy.delete(n);
      kick(u);
      return ctx.send(200, { etag: `"${r.digest}"`, 'content-length': 0 }, '');
    } finally {
      u.busy.delete(n);
    }
  }

  // ---- routes ----
  async function init(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    let body: { channel_id?: unknown; channelId?: unknown; files?: unknown };
    try {
      body = (await readJson(ctx)) as typeof body;
    } catch (err) {
      return fail(ctx, 400, `Invalid request body: ${(err as Error).message}`);
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
        createdAt: Date.now(),
      };
      const u = newUpload(s);
      await mkdir(u.dir, { recursive: true });
      const fh = await open(u.dataPath, 'w');
      await fh.truncate(s.size); // sparse: parts land at their offsets
      await fh.close();
      await writeFile(join(u.dir, 'session.json'), JSON.stringify(s));
      uploads.set(u.uploadId, u);
      sessions.push({
        uploadId: s.uploadId,
        fileId: s.fileId,
        isChunked,
        totalChunks: s.totalChunks,
        chunkSize: LIMITS.chunkSize,
        presignedUrls: Array.from({ length: s.totalChunks }, (_, i) => presign(s.uploadId, i + 1)),
        status: 'initialized',
      });
    }
    return ok(ctx, sessions);
  }

  async function presignedPut(ctx: RequestContext): Promise<void> {
    const { uploadId = '', partNumber = '' } = ctx.params;
    if (ctx.req.headers.authorization !== undefined) {
      core.stats.presignedWithAuth++;
      return fail(ctx, 400, MESSAGES.twoAuth);
    }
    const q = ctx.url.searchParams;
    const expires = q.get('expires') ?? '';
    if (!signatureOk(uploadId, partNumber, expires, q.get('signature') ?? '')) return fail(ctx, 403, MESSAGES.urlInvalid);
    const u = uploads.get(uploadId);
    if (!u) return fail(ctx, 404, MESSAGES.notFound);
    const n = Number(partNumber);
    if (!(n >= 1 && n <= u.totalChunks)) return fail(ctx, 400, MESSAGES.badChunkIndex(partNumber));
    if (Date.now() > Number(expires)) {
      core.stats.partRefused();
      if (!u.busy.has(n) && !u.parts.has(n)) record(u, { t: 'fail', n, bytes: 0 });
      return fail(ctx, 403, MESSAGES.urlExpired);
    }
    const cl = ctx.req.headers['content-length'];
    const declared = cl === undefined ? undefined : Number(cl);
    const fault = core.partFaults.next();
    if (fault) core.stats.fault(`part-${fault}`);
    return receivePart(ctx, u, n, ctx.req as AsyncIterable<Buffer>, Number.isFinite(declared) ? declared : undefined, fault);
  }

  async function chunk(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    const u = await uploadOr404(ctx);
    if (!u) return;
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
      handled = receivePart(ctx, u, Number(idx) + 1, stream as AsyncIterable<Buffer>, undefined, null);
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
    const data: RetryUrl[] = [...chunks].sort((a, b) => a - b).map((i) => ({ chunkIndex: i, url: presign(u.uploadId, i + 1) }));
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
    if (done) return ok(ctx, done);
    const u = uploads.get(id);
    if (!u || completing.has(id)) return fail(ctx, 404, MESSAGES.notFound);
    const missing: number[] = [];
    for (let n = 1; n <= u.totalChunks; n++) if (!u.parts.has(n)) missing.push(n);
    if (missing.length) return fail(ctx, 400, MESSAGES.missingParts(missing));
    completing.add(id);
    uploads.delete(id); // no more PUTs, progress or verify for it
    try {
      await u.log;
      const sha256 = (u.sha256 ??= await wholeHash(u));
      const ext = extname(u.filename).slice(1).toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 10);
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
      await writeFile(join(recordsDir, `${id}.json`), JSON.stringify({ ...rec, uploadId: id }));
      records.set(id, rec);
      await rm(u.dir, { recursive: true, force: true });
      return ok(ctx, rec);
    } catch (err) {
      uploads.set(id, u);
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

  const protocol: Protocol = {
    name: 'hybrid',
    routes: [
      { method: 'POST', path: `${HYBRID_BASE}/init`, name: 'hybrid.init', faults: true, handle: init },
      { method: 'POST', path: `${HYBRID_BASE}/chunk/:uploadId/:chunkIndex`, name: 'hybrid.chunk', faults: true, handle: chunk },
      { method: 'GET', path: `${HYBRID_BASE}/progress/:uploadId`, name: 'hybrid.progress', faults: true, handle: progress },
      { method: 'POST', path: `${HYBRID_BASE}/retry/:uploadId`, name: 'hybrid.retry', faults: true, handle: retry },
      { method: 'GET', path: `${HYBRID_BASE}/verify/:uploadId`, name: 'hybrid.verify', faults: true, handle: verify },
      { method: 'POST', path: `${HYBRID_BASE}/complete/:uploadId`, name: 'hybrid.complete', faults: true, handle: complete },
      // Faults of presigned PUTs come from core.partFaults, applied by the handler (it records failed chunks).
      { method: 'PUT', path: `${PRESIGNED_BASE}/:uploadId/:partNumber`, name: 'hybrid.put', handle: presignedPut },
      { method: 'PUT', path: '/_sandbox/hybrid/raw/:name', name: 'hybrid.raw', counted: false, handle: raw },
    ],
    errorBody: (_status, message) => ({ success: false, message }),
    batchCount: () => uploads.size + records.size,
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
      return r ? { uploadId: id, status: 'completed', record: r } : undefined;
    },
    async close() {
      await Promise.allSettled([...uploads.values()].map((u) => u.log));
      for (const u of uploads.values()) u.hash.close();
    },
  };
  return protocol;
};

function stripUploadId(r: VideoRecord & { uploadId?: string }): VideoRecord {
  const { uploadId: _u, ...rest } = r;
  return rest as VideoRecord;
}

/** The HMAC key of this data folder (made once, 0600). */
async function loadKey(path: string): Promise<Buffer> {
  try {
    const k = await readFile(path);
    if (k.length >= 32) return k;
  } catch {
    /* first start */
  }
  const k = randomBytes(32);
  const tmp = `${path}.${randomBytes(4).toString('hex')}.tmp`;
  await writeFile(tmp, k, { mode: 0o600 });
  await rename(tmp, path);
  return k;
}

export type { SandboxCore };
