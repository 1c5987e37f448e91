/**
 * bach (seed 000, protocols/bach.md): sync multipart submit, async JSON submit, status polling.
 * Every limit and message comes from the shared contract (src/providers/bach/contract.ts).
 *
 * Bodies are streamed: multipart file parts and Base64 values go to temp files while hashing,
 * so a 300 × 10 MB batch runs in bounded memory. Validation is decided only once the whole body
 * is read (fields may arrive in any order) and a rejected request stores nothing.
 *
 * Validation order (sandbox choice; the vendor documents none): batch_id reuse, empty list,
 * too many, names-count mismatch, then the lowest-index item error (for a file: extension, then
 * size; for an async item: exactly-one-source, Base64 syntax, size). Every `files` entry, ZIPs
 * included, is held to the 10 MB file limit.
 */
import busboy from 'busboy';
import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import yauzl from 'yauzl';
import {
  ALLOWED_EXTENSIONS,
  CODES,
  LIMITS,
  MESSAGES,
  STATUS,
  defaultImageName,
  extensionOf,
  isZipImageEntry,
  zipImageName,
  type StatusData,
  type StatusResult,
  type SubmitData,
} from '../providers/bach/contract.js';
import { Base64Decoder } from './base64.js';
import { JsonScanner, JsonSyntaxError, type JsonHandler } from './json-stream.js';
import { extFromContentType, sniffExt } from './media.js';
import type { Protocol, ProtocolFactory, RequestContext, SandboxCore } from './server.js';
import type { Ingested, TempWriter } from './store.js';

export const BACH_BASE = '/api/vdr';

type ItemKind = 'file' | 'zip-entry' | 'zip' | 'base64' | 'url';

/** One result of a batch (a file, a ZIP entry, an async item). Persisted as is. */
export interface BachItem {
  /** Zero-based position in the submitted `files` / `images`. */
  index: number;
  image_name: string;
  kind: ItemKind;
  /** The URL to fetch, for URL items. */
  source_url?: string;
  sha256?: string;
  size?: number;
  ext?: string;
  error_message?: string;
  /** False only while a URL item has not been fetched yet. */
  done: boolean;
}

export interface BachBatch {
  batch_id: string;
  created_at: number;
  path: 'submit-with-files' | 'submit';
  /** `total_count` of the submit response: entries in `files` / `images`. */
  submitted_count: number;
  items: BachItem[];
}

const IMAGE_EXTS = ALLOWED_EXTENSIONS.filter((e) => e !== 'zip') as readonly string[];
const ALLOWED = ALLOWED_EXTENSIONS as readonly string[];
/** Cap for small JSON strings (batch_id, image_name, image_url): beyond it the body is rejected. */
const MAX_SMALL_STRING = 64 * 1024;
/** A URL download is counted (for the size message) up to this many bytes, then cut off. */
const MAX_URL_COUNT_BYTES = 2 * 1024 * 1024 * 1024;
const URL_FETCH_TIMEOUT_MS = 30_000;
const URL_FETCH_CONCURRENCY = 4;

class BodyError extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}

export const createBachProtocol: ProtocolFactory = async (core) => {
  const batches = new Map<string, BachBatch>();
  const reserved = new Set<string>();
  const dir = join(core.dataDir, 'bach', 'batches');
  await mkdir(dir, { recursive: true });
  const writes = new Map<string, Promise<void>>();

  // ---- persistence ----
  const fileOf = (id: string) => join(dir, `${createHash('sha256').update(id).digest('hex')}.json`);
  function persist(batch: BachBatch): Promise<void> {
    const prev = writes.get(batch.batch_id) ?? Promise.resolve();
    const next = prev.then(async () => {
      const file = fileOf(batch.batch_id);
      const tmp = `${file}.${randomBytes(4).toString('hex')}.tmp`;
      await writeFile(tmp, JSON.stringify(batch));
      await rename(tmp, file);
    });
    const settled = next.catch((err) => core.log(`bach: persisting ${batch.batch_id} failed: ${String(err)}`));
    writes.set(batch.batch_id, settled);
    void settled.finally(() => {
      if (writes.get(batch.batch_id) === settled) writes.delete(batch.batch_id);
    });
    return next;
  }

  for (const name of await readdir(dir)) {
    if (!name.endsWith('.json')) continue;
    try {
      const b = JSON.parse(await readFile(join(dir, name), 'utf8')) as BachBatch;
      if (typeof b.batch_id !== 'string' || !Array.isArray(b.items)) continue;
      batches.set(b.batch_id, b);
      for (const it of b.items) if (it.sha256 && !it.error_message && it.done) core.stats.receipt(it.sha256);
      if (b.items.some((it) => !it.done)) core.track(runUrlWorker(b));
    } catch (err) {
      core.log(`bach: skipping unreadable batch file ${name}: ${String(err)}`);
    }
  }

  // ---- helpers ----
  const envelope = <T>(data: T) => ({ code: 200, message: MESSAGES.success, data });
  const fail = (ctx: RequestContext, status: number, code: number, message: string) =>
    ctx.refuse(status, { code, message });
  const bad = (ctx: RequestContext, message: string) => fail(ctx, 400, CODES.validation, message);
  const unauthorized = (ctx: RequestContext) => fail(ctx, 401, CODES.unauthorized, MESSAGES.unauthorized);
  const newBatchId = () => {
    let id: string;
    do id = randomBytes(8).toString('hex');
    while (batches.has(id) || reserved.has(id));
    return id;
  };
  const idTaken = (id: string) => batches.has(id) || reserved.has(id);

  async function register(batch: BachBatch): Promise<void> {
    batches.set(batch.batch_id, batch);
    reserved.delete(batch.batch_id);
    for (const it of batch.items) if (it.sha256 && it.done && !it.error_message) core.stats.receipt(it.sha256);
    await persist(batch);
    if (batch.items.some((it) => !it.done)) core.track(runUrlWorker(batch));
  }

  function view(batch: BachBatch, now = Date.now()): StatusData {
    const results: StatusResult[] = [];
    let ok = 0;
    let failed = 0;
    batch.items.forEach((it, k) => {
      if (!it.done || now < batch.created_at + (k + 1) * core.processMsPerImage) return;
      if (it.error_message || !it.sha256) {
        failed++;
        results.push({
          index: it.index,
          image_name: it.image_name,
          status: STATUS.failed,
          error_message: it.error_message ?? MESSAGES.urlFailed,
        });
      } else {
        ok++;
        results.push({
          index: it.index,
          image_name: it.image_name,
          image_url: core.cdnUrl(it.sha256, it.ext ?? ''),
          status: STATUS.succeeded,
        });
      }
    });
    const processed = ok + failed;
    const total = batch.items.length;
    return {
      batch_id: batch.batch_id,
      total_count: total,
      processed_count: processed,
      success_count: ok,
      failed_count: failed,
      status: processed === 0 && total > 0 ? STATUS.pending : processed < total ? STATUS.processing : STATUS.succeeded,
      results,
    };
  }

  // ---- ZIP expansion ----
  async function expandZip(path: string, index: number, zipName: string): Promise<BachItem[]> {
    const position = index + 1;
    const failItem = (message: string, name = zipName): BachItem => ({
      index, image_name: name, kind: 'zip', error_message: message, done: true,
    });
    let zip: yauzl.ZipFile;
    try {
      zip = await yauzl.openPromise(path, { lazyEntries: true, autoClose: false, strictFileNames: false });
    } catch {
      return [failItem(MESSAGES.badZip(position, zipName))];
    }
    const items: BachItem[] = [];
    try {
      await new Promise<void>((resolve, reject) => {
        zip.on('error', reject);
        zip.on('end', () => resolve());
        zip.on('entry', (entry: yauzl.Entry) => {
          handleEntry(entry).then(() => zip.readEntry(), reject);
        });
        zip.readEntry();
      });
    } catch {
      items.push(failItem(MESSAGES.badZip(position, zipName)));
    } finally {
      zip.close();
    }
    if (items.length === 0) items.push(failItem(MESSAGES.zipEmpty(position, zipName)));
    return items;

    async function handleEntry(entry: yauzl.Entry): Promise<void> {
      if (!isZipImageEntry(entry.fileName)) return;
      const imageName = zipImageName(zipName, entry.fileName);
      const base = { index, image_name: imageName, kind: 'zip-entry' as const, done: true };
      if (entry.uncompressedSize > LIMITS.maxFileSize) {
        items.push({ ...base, error_message: MESSAGES.tooLarge(position, imageName, entry.uncompressedSize) });
        return;
      }
      let ing: Ingested;
      try {
        const stream = await zip.openReadStreamPromise(entry);
        ing = await core.store.ingest(stream, LIMITS.maxFileSize);
      } catch {
        items.push({ ...base, error_message: MESSAGES.zipEntryFailed(position, imageName) });
        return;
      }
      if (ing.overLimit) {
        await core.store.discard(ing);
        items.push({ ...base, error_message: MESSAGES.tooLarge(position, imageName, ing.size) });
        return;
      }
      const { sha256, size } = await core.store.commit(ing);
      items.push({ ...base, sha256, size, ext: extensionOf(entry.fileName) });
    }
  }

  // ---- URL items ----
  async function runUrlWorker(batch: BachBatch): Promise<void> {
    const pending = batch.items.filter((it) => !it.done);
    let next = 0;
    const worker = async () => {
      while (next < pending.length && !core.signal.aborted) {
        const it = pending[next++]!;
        const r = await fetchImage(it.source_url ?? '');
        if (core.signal.aborted && r.aborted) return;
        if (r.ing) {
          const { sha256, size } = await core.store.commit(r.ing);
          it.sha256 = sha256;
          it.size = size;
          it.ext = pickExt(it.image_name, r.ing.head, it.source_url, r.contentType);
          core.stats.receipt(sha256);
        } else {
          it.error_message = r.message ?? MESSAGES.urlFailed;
        }
        it.done = true;
      }
    };
    await Promise.all(Array.from({ length: Math.min(URL_FETCH_CONCURRENCY, pending.length) }, worker));
    await persist(batch).catch(() => undefined);
  }

  async function fetchImage(
    rawUrl: string,
  ): Promise<{ ing?: Ingested; contentType?: string; message?: string; aborted?: boolean }> {
    let url = rawUrl;
    for (let hop = 0; hop < 5; hop++) {
      let u: URL;
      try {
        u = new URL(url);
      } catch {
        return { message: MESSAGES.urlFailed };
      }
      if ((u.protocol !== 'http:' && u.protocol !== 'https:') || !core.isAllowedFetchHost(u.hostname)) {
        return { message: MESSAGES.urlFailed };
      }
      let res: IncomingMessage;
      try {
        res = await get(u);
      } catch {
        return { message: MESSAGES.urlFailed, aborted: core.signal.aborted };
      }
      const status = res.statusCode ?? 0;
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume();
        url = new URL(res.headers.location, u).href;
        continue;
      }
      if (status !== 200) {
        res.resume();
        return { message: MESSAGES.urlFailed };
      }
      const declared = Number(res.headers['content-length']);
      if (Number.isFinite(declared) && declared > LIMITS.maxFileSize) {
        res.destroy();
        return { message: MESSAGES.urlTooLarge(declared) };
      }
      const w = core.store.tempWriter(LIMITS.maxFileSize);
      try {
        for await (const chunk of res as AsyncIterable<Buffer>) {
          if (w.write(chunk)) await w.drained();
          if (w.size > MAX_URL_COUNT_BYTES) break;
        }
        const ing = await w.finish();
        if (!res.complete && w.size <= MAX_URL_COUNT_BYTES) {
          await core.store.discard(ing);
          return { message: MESSAGES.urlFailed };
        }
        if (ing.overLimit) {
          await core.store.discard(ing);
          return { message: MESSAGES.urlTooLarge(ing.size) };
        }
        return { ing, contentType: res.headers['content-type'] };
      } catch {
        await w.discard();
        res.destroy();
        return { message: MESSAGES.urlFailed, aborted: core.signal.aborted };
      }
    }
    return { message: MESSAGES.urlFailed };
  }

  function get(u: URL): Promise<IncomingMessage> {
    return new Promise((resolve, reject) => {
      const req = (u.protocol === 'https:' ? httpsRequest : httpRequest)(u, {
        method: 'GET',
        signal: core.signal,
        timeout: URL_FETCH_TIMEOUT_MS,
        headers: { 'user-agent': 'batchup-sandbox' },
      });
      req.on('response', resolve);
      req.on('error', reject);
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.end();
    });
  }

  // ---- routes ----
  async function submitWithFiles(ctx: RequestContext): Promise<void> {
    if (!(await ctx.authorized())) return unauthorized(ctx);
    let bb: busboy.Busboy;
    try {
      bb = busboy({
        headers: ctx.req.headers,
        defParamCharset: 'utf8',
        limits: { fieldSize: 1024 * 1024, fields: 10_000, parts: 100_000, fieldNameSize: 200 },
      });
    } catch {
      return bad(ctx, MESSAGES.invalidBody('expected multipart/form-data'));
    }

    interface Entry { index: number; filename: string; ext: string; ing?: Ingested }
    const entries: Entry[] = [];
    const fileErrors = new Map<number, string>();
    const writers = new Set<TempWriter>();
    const names: string[] = [];
    let batchId: string | undefined;
    let fileCount = 0;
    let bodyError: string | undefined;
    let internal: unknown;
    const tasks: Promise<void>[] = [];
    const firstErrorIndex = () => (fileErrors.size ? Math.min(...fileErrors.keys()) : Infinity);

    const onFile = async (stream: NodeJS.ReadableStream & AsyncIterable<Buffer>, filename: string) => {
      const index = fileCount++;
      const position = index + 1;
      const ext = extensionOf(filename);
      try {
        if (index >= LIMITS.maxFiles || index > firstErrorIndex() || internal || bodyError) {
          stream.resume();
          return;
        }
        if (!ALLOWED.includes(ext)) {
          fileErrors.set(index, MESSAGES.badExtension(position, filename, ext));
          stream.resume();
          return;
        }
        const w = core.store.tempWriter(LIMITS.maxFileSize);
        writers.add(w);
        for await (const chunk of stream) {
          if (w.write(chunk)) await w.drained();
        }
        const ing = await w.finish();
        if (ing.overLimit) {
          await w.discard();
          fileErrors.set(index, MESSAGES.tooLarge(position, filename, ing.size));
          return;
        }
        entries.push({ index, filename, ext, ing });
      } catch (err) {
        internal ??= err;
        stream.resume();
      }
    };

    bb.on('file', (field, stream, info) => {
      if (field === 'files') tasks.push(onFile(stream, info.filename ?? ''));
      else stream.resume();
    });
    bb.on('field', (field, value, info) => {
      if (info.valueTruncated || info.nameTruncated) bodyError ??= `field '${field}' is too long`;
      if (field === 'image_names') names.push(value);
      else if (field === 'batch_id') batchId = value === '' ? undefined : value;
      else if (field === 'files') {
        // A `files` entry sent as a plain field: it has no file name, so no allowed extension.
        const index = fileCount++;
        if (index < LIMITS.maxFiles) fileErrors.set(index, MESSAGES.badExtension(index + 1, '', ''));
      }
    });
    bb.on('partsLimit', () => (bodyError ??= 'too many parts'));
    bb.on('fieldsLimit', () => (bodyError ??= 'too many fields'));

    const cleanup = async () => {
      await Promise.all([...writers].map((w) => w.discard()));
    };
    try {
      await new Promise<void>((resolve, reject) => {
        bb.on('close', resolve);
        bb.on('error', (err) => reject(new BodyError(`malformed multipart/form-data (${(err as Error).message})`)));
        ctx.req.on('error', reject);
        ctx.req.on('aborted', () => reject(new Error('client aborted')));
        ctx.req.on('close', () => {
          if (!ctx.req.complete) reject(new Error('client aborted'));
        });
        ctx.req.pipe(bb);
      });
      await Promise.all(tasks);
    } catch (err) {
      ctx.req.unpipe(bb);
      bb.destroy(); // ends any open file stream, so its task settles
      await Promise.allSettled(tasks);
      await cleanup();
      if (ctx.gone) return;
      if (err instanceof BodyError) return bad(ctx, MESSAGES.invalidBody(err.detail));
      throw err;
    }
    if (internal) {
      await cleanup();
      throw internal;
    }

    const reject = async (message: string) => {
      await cleanup();
      return bad(ctx, message);
    };
    if (bodyError) return reject(MESSAGES.invalidBody(bodyError));
    if (batchId !== undefined && idTaken(batchId)) return reject(MESSAGES.batchExists(batchId));
    if (fileCount < LIMITS.minFiles) return reject(MESSAGES.emptyList);
    if (fileCount > LIMITS.maxFiles) return reject(MESSAGES.tooMany);
    if (names.length > 0 && names.length !== fileCount) return reject(MESSAGES.namesMismatch);
    const firstError = firstErrorIndex();
    if (firstError !== Infinity) return reject(fileErrors.get(firstError)!);

    const id = batchId ?? newBatchId();
    reserved.add(id);
    const items: BachItem[] = [];
    try {
      entries.sort((a, b) => a.index - b.index);
      for (const e of entries) {
        const name = names[e.index] || e.filename;
        if (e.ext === 'zip') {
          items.push(...(await expandZip(e.ing!.path, e.index, name)));
          await core.store.discard(e.ing!);
        } else {
          const { sha256, size } = await core.store.commit(e.ing!);
          items.push({ index: e.index, image_name: name, kind: 'file', sha256, size, ext: e.ext, done: true });
        }
      }
    } catch (err) {
      reserved.delete(id);
      await cleanup();
      throw err;
    }
    await cleanup();
    await register({ batch_id: id, created_at: Date.now(), path: 'submit-with-files', submitted_count: fileCount, items });
    const data: SubmitData = { batch_id: id, total_count: fileCount, message: MESSAGES.submitted, status: STATUS.pending };
    return ctx.json(200, envelope(data));
  }

  async function submit(ctx: RequestContext): Promise<void> {
    if (!(await ctx.authorized())) return unauthorized(ctx);
    const intake = new AsyncIntake(core);
    const scanner = new JsonScanner(intake);
    try {
      for await (const chunk of ctx.req.iterator({ destroyOnReturn: false }) as AsyncIterable<Buffer>) {
        scanner.write(chunk);
        await intake.flush();
      }
      if (!ctx.req.complete) throw new Error('client aborted');
      scanner.end();
      await intake.settle();
    } catch (err) {
      await intake.cleanup();
      if (ctx.gone) return;
      if (err instanceof JsonSyntaxError) return bad(ctx, MESSAGES.invalidBody(`malformed JSON (${err.message})`));
      if (err instanceof BodyError) return bad(ctx, MESSAGES.invalidBody(err.detail));
      throw err;
    }

    const reject = async (message: string) => {
      await intake.cleanup();
      return bad(ctx, message);
    };
    const { batchId, count } = intake;
    if (batchId !== undefined && idTaken(batchId)) return reject(MESSAGES.batchExists(batchId));
    if (count < LIMITS.minFiles) return reject(MESSAGES.emptyList);
    if (count > LIMITS.maxFiles) return reject(MESSAGES.tooMany);
    if (intake.firstError) return reject(intake.firstError);

    const id = batchId ?? newBatchId();
    reserved.add(id);
    const items: BachItem[] = [];
    try {
      for (const it of intake.items) {
        if (it.url) {
          items.push({ index: it.index, image_name: it.name, kind: 'url', source_url: it.url, done: false });
        } else {
          const { sha256, size } = await core.store.commit(it.ing!);
          items.push({
            index: it.index, image_name: it.name, kind: 'base64', sha256, size,
            ext: pickExt(it.name, it.ing!.head), done: true,
          });
        }
      }
    } catch (err) {
      reserved.delete(id);
      await intake.cleanup();
      throw err;
    }
    await intake.cleanup();
    await register({ batch_id: id, created_at: Date.now(), path: 'submit', submitted_count: count, items });
    const data: SubmitData = { batch_id: id, total_count: count, message: MESSAGES.submitted, status: STATUS.pending };
    return ctx.json(200, envelope(data));
  }

  async function status(ctx: RequestContext): Promise<void> {
    if (!(await ctx.authorized())) return unauthorized(ctx);
    const batch = batches.get(ctx.params.batch_id!);
    if (!batch) return ctx.json(404, { code: CODES.batchNotFound, message: MESSAGES.batchNotFound });
    return ctx.json(200, envelope(view(batch)));
  }

  const protocol: Protocol = {
    name: 'bach',
    routes: [
      { method: 'POST', path: `${BACH_BASE}/batch-upload/submit-with-files`, name: 'bach.submit-with-files', faults: true, handle: submitWithFiles },
      { method: 'POST', path: `${BACH_BASE}/batch-upload/submit`, name: 'bach.submit', faults: true, handle: submit },
      { method: 'GET', path: `${BACH_BASE}/batch-upload/status/:batch_id`, name: 'bach.status', faults: true, handle: status },
    ],
    errorBody: (status, message) => ({ code: status, message }),
    batchCount: () => batches.size,
    inspectBatch(id) {
      const b = batches.get(id);
      if (!b) return undefined;
      return {
        protocol: 'bach',
        ...b,
        items: b.items.map((it) => ({ ...it, image_url: it.sha256 ? core.cdnUrl(it.sha256, it.ext ?? '') : undefined })),
        process_ms_per_image: core.processMsPerImage,
        status: view(b),
      };
    },
    async close() {
      await Promise.allSettled([...writes.values()]);
    },
  };
  return protocol;
};

/** CDN extension: the name's image extension, else the URL's, else the Content-Type's, else sniffed. */
function pickExt(name: string, head: Buffer, url?: string, contentType?: string): string {
  const fromName = extensionOf(name);
  if (IMAGE_EXTS.includes(fromName)) return fromName;
  if (url) {
    try {
      const fromUrl = extensionOf(new URL(url).pathname);
      if (IMAGE_EXTS.includes(fromUrl)) return fromUrl;
    } catch {
      /* ignore */
    }
  }
  return extFromContentType(contentType) ?? sniffExt(head) ?? 'bin';
}

// ---- the async JSON body, consumed as a token stream ----

interface AsyncItem {
  index: number;
  name: string;
  url?: string;
  ingP?: Promise<Ingested>;
  ing?: Ingested;
}

interface ItemState {
  index: number;
  keep: boolean;
  name?: string;
  url?: string;
  b64?: { decoder: Base64Decoder; writer?: TempWriter; chars: number; ingP?: Promise<Ingested> };
  sawB64Key: boolean;
}

type StrTarget = 'batch_id' | 'image_name' | 'image_url' | 'image_base64' | 'ignore';

class AsyncIntake implements JsonHandler {
  batchId: string | undefined;
  count = 0;
  firstError: string | undefined;
  readonly items: AsyncItem[] = [];

  private level = 0; // 0 before root, 1 root object, 2 images array, 3 an image object
  private field: string | null = null;
  private skip = 0;
  private sawImages = false;
  private cur: ItemState | null = null;
  private str: StrTarget = 'ignore';
  private strParts: Buffer[] = [];
  private strLen = 0;
  private needDrain: TempWriter | null = null;
  private readonly finishing: Promise<void>[] = [];
  private readonly writers = new Set<TempWriter>();

  constructor(private readonly core: SandboxCore) {}

  // -- driving --
  async flush(): Promise<void> {
    const w = this.needDrain;
    this.needDrain = null;
    if (w) await w.drained();
  }

  async settle(): Promise<void> {
    await Promise.all(this.finishing);
    for (const item of this.items) if (item.ingP) item.ing = await item.ingP;
  }

  async cleanup(): Promise<void> {
    await Promise.allSettled(this.finishing);
    await Promise.all([...this.writers].map((w) => w.discard()));
  }

  // -- JsonHandler --
  startObject(): void {
    if (this.skip) return void this.skip++;
    switch (this.level) {
      case 0:
        this.level = 1;
        return;
      case 1:
        if (this.field === 'images' || this.field === 'batch_id') throw this.typeError();
        this.skip = 1;
        return;
      case 2:
        this.beginItem();
        this.level = 3;
        return;
      default:
        if (isItemField(this.field)) throw this.typeError();
        this.skip = 1;
    }
  }

  endObject(): void {
    if (this.skip) return void this.skip--;
    if (this.level === 3) {
      this.endItem();
      this.level = 2;
    } else if (this.level === 1) {
      this.level = 0;
    }
    this.field = null;
  }

  startArray(): void {
    if (this.skip) return void this.skip++;
    switch (this.level) {
      case 0:
        throw new BodyError('the body must be a JSON object');
      case 1:
        if (this.field === 'images') {
          if (this.sawImages) throw new BodyError("duplicate key 'images'");
          this.sawImages = true;
          this.level = 2;
          return;
        }
        if (this.field === 'batch_id') throw this.typeError();
        this.skip = 1;
        return;
      case 2:
        throw new BodyError('each item of images must be an object');
      default:
        if (isItemField(this.field)) throw this.typeError();
        this.skip = 1;
    }
  }

  endArray(): void {
    if (this.skip) return void this.skip--;
    if (this.level === 2) {
      this.level = 1;
      this.field = null;
    }
  }

  key(name: string): void {
    if (this.skip) return;
    this.field = name;
  }

  startString(): void {
    this.str = 'ignore';
    this.strParts = [];
    this.strLen = 0;
    if (this.skip) return;
    switch (this.level) {
      case 0:
        throw new BodyError('the body must be a JSON object');
      case 1:
        if (this.field === 'images') throw this.typeError();
        if (this.field === 'batch_id') this.str = 'batch_id';
        return;
      case 2:
        throw new BodyError('each item of images must be an object');
      default: {
        const cur = this.cur!;
        if (this.field === 'image_name' || this.field === 'image_url') {
          if (cur.keep) this.str = this.field;
          return;
        }
        if (this.field === 'image_base64') {
          if (cur.sawB64Key) throw new BodyError("duplicate key 'image_base64'");
          cur.sawB64Key = true;
          const decoder = new Base64Decoder();
          const storeIt = cur.keep && this.firstError === undefined;
          let writer: TempWriter | undefined;
          if (storeIt) {
            writer = this.core.store.tempWriter(LIMITS.maxFileSize);
            this.writers.add(writer);
          }
          cur.b64 = { decoder, writer, chars: 0 };
          this.str = 'image_base64';
        }
      }
    }
  }

  stringChunk(chunk: Buffer): void {
    switch (this.str) {
      case 'ignore':
        return;
      case 'image_base64': {
        const b64 = this.cur!.b64!;
        b64.chars += chunk.length;
        if (!b64.writer) {
          // Not stored (an earlier item already failed, or past the limit): only the shape matters.
          return;
        }
        const out = b64.decoder.push(chunk);
        if (out.length && b64.writer.write(out)) this.needDrain = b64.writer;
        return;
      }
      default:
        this.strLen += chunk.length;
        if (this.strLen > MAX_SMALL_STRING) throw new BodyError(`'${this.str}' is too long`);
        this.strParts.push(Buffer.from(chunk));
    }
  }

  endString(): void {
    const target = this.str;
    this.str = 'ignore';
    if (target === 'ignore') return;
    if (target === 'image_base64') {
      const b64 = this.cur!.b64!;
      if (b64.writer) {
        const tail = b64.decoder.end();
        if (tail.length) b64.writer.write(tail);
        b64.ingP = b64.writer.finish();
        this.finishing.push(b64.ingP.then(() => undefined));
      }
      return;
    }
    const value = Buffer.concat(this.strParts).toString('utf8');
    this.strParts = [];
    if (target === 'batch_id') this.batchId = value === '' ? undefined : value;
    else if (target === 'image_name') this.cur!.name = value === '' ? undefined : value;
    else if (target === 'image_url') this.cur!.url = value === '' ? undefined : value;
  }

  value(v: number | boolean | null): void {
    if (this.skip) return;
    switch (this.level) {
      case 0:
        throw new BodyError('the body must be a JSON object');
      case 1:
        if ((this.field === 'images' || this.field === 'batch_id') && v !== null) throw this.typeError();
        return;
      case 2:
        throw new BodyError('each item of images must be an object');
      default:
        if (isItemField(this.field) && v !== null) throw this.typeError();
    }
  }

  // -- items --
  private beginItem(): void {
    const index = this.count++;
    this.cur = { index, keep: index < LIMITS.maxFiles, sawB64Key: false };
  }

  private endItem(): void {
    const cur = this.cur!;
    this.cur = null;
    if (!cur.keep) return;
    const position = cur.index + 1;
    const name = cur.name ?? defaultImageName(cur.index, cur.url);
    const hasB64 = cur.b64 !== undefined && cur.b64.chars > 0;
    const hasUrl = cur.url !== undefined;
    let error: string | undefined;
    if (hasUrl === hasB64) error = MESSAGES.imageSource(position, name);
    else if (hasB64 && cur.b64!.writer) {
      const d = cur.b64!.decoder;
      if (d.invalid) error = MESSAGES.invalidBase64(position, name);
      else if (d.decodedSize > LIMITS.maxFileSize) error = MESSAGES.tooLarge(position, name, d.decodedSize);
    }
    if (error !== undefined) {
      this.firstError ??= error;
      return;
    }
    if (this.firstError !== undefined) return; // the batch is rejected anyway
    this.items.push({ index: cur.index, name, url: hasUrl ? cur.url : undefined, ingP: hasUrl ? undefined : cur.b64?.ingP });
  }

  private typeError(): BodyError {
    const where = this.level >= 3 ? `image '${this.field}'` : `'${this.field}'`;
    return new BodyError(
      this.field === 'images' ? "'images' must be an array of objects" : `${where} must be a string`,
    );
  }
}

function isItemField(key: string | null): boolean {
  return key === 'image_name' || key === 'image_url' || key === 'image_base64';
}
