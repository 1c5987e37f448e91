/**
 * `POST /batch-upload/submit-with-files` (sync, multipart/form-data). File parts stream to temp
 * files while hashing, so 300 × 10 MB run in bounded memory; the request is judged only once the
 * whole body is in (fields may come in any order) and a rejected request stores nothing.
 *
 * Validation order (sandbox choice; the vendor documents none): batch_id reuse, empty list, too
 * many, names-count mismatch, then the lowest-index file error (extension, then size). Every
 * `files` entry, ZIPs included, is held to the 10 MB file limit.
 */
import busboy from 'busboy';
import { ALLOWED_EXTENSIONS, LIMITS, MESSAGES, extensionOf } from '../../../providers/bach/contract.js';
import type { RequestContext } from '../../kit/context.js';
import type { SandboxCore } from '../../kit/protocol.js';
import type { Ingested, TempWriter } from '../../kit/store.js';
import type { BachBatches, BachItem } from './batches.js';
import { BodyError, bad, unauthorized } from './replies.js';
import { acceptSubmit, batchRuleBroken } from './submit.js';
import { expandZip } from './zip.js';

const ALLOWED = ALLOWED_EXTENSIONS as readonly string[];

interface Entry {
  index: number;
  filename: string;
  ext: string;
  ing: Ingested;
}

export function submitWithFiles(core: SandboxCore, batches: BachBatches) {
  return async (ctx: RequestContext): Promise<void> => {
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

    const broken =
      (bodyError !== undefined ? MESSAGES.invalidBody(bodyError) : undefined) ??
      batchRuleBroken(batches, batchId, fileCount) ??
      (names.length > 0 && names.length !== fileCount ? MESSAGES.namesMismatch : undefined) ??
      fileErrors.get(firstErrorIndex());
    if (broken !== undefined) {
      await cleanup();
      return bad(ctx, broken);
    }

    return acceptSubmit(ctx, core, batches, {
      batchId,
      count: fileCount,
      path: 'submit-with-files',
      cleanup,
      async build() {
        const items: BachItem[] = [];
        entries.sort((a, b) => a.index - b.index);
        for (const e of entries) {
          const name = names[e.index] || e.filename;
          if (e.ext === 'zip') {
            items.push(...(await expandZip(core.store, e.ing.path, e.index, name)));
            await core.store.discard(e.ing);
          } else {
            const { sha256, size } = await core.store.commit(e.ing);
            items.push({ index: e.index, image_name: name, kind: 'file', sha256, size, ext: e.ext, done: true });
          }
        }
        return items;
      },
    });
  };
}
