/**
 * `POST /v1/image/edit/upload`: a multipart body with a `data` field (JSON `{operations,
 * output?}`, no `input`) and a `file` part with a file name; any other field is refused (422).
 * The file streams to a temp file of the content store (bounded by the size limit) and is judged
 * once the whole body is in: the request's shape (422 `detail`), the contract's rules (422 9000),
 * the API calls left (402), the image by its real header (422 9000). Then it is stored (a
 * receipt), edited (images.ts) and answered synchronously: `{data: {input, output}}`.
 */
import busboy from 'busboy';
import {
  CALLS_PER_IMAGE,
  ERRORS,
  LIMITS,
  MESSAGES,
  destinationOf,
  operationsProblem,
  outputProblem,
  outputSize,
  parseStorageUri,
} from '../../../providers/claid/contract.js';
import type { RequestContext } from '../../kit/context.js';
import type { Ingested } from '../../kit/store.js';
import { problemReply } from './batch-routes.js';
import { admit } from './gate.js';
import { inputObject, makeOutput, readImage } from './images.js';
import type { ClaidState } from './state.js';

/** Reads the multipart body: the `data` text, the `file` (in a temp file), the first unexpected field. */
async function readForm(st: ClaidState, ctx: RequestContext): Promise<{ data?: string; file?: { ing: Ingested; name: string }; extra?: string } | Error> {
  let bb: busboy.Busboy;
  try {
    bb = busboy({ headers: ctx.req.headers, defParamCharset: 'utf8', limits: { fieldSize: 1024 * 1024, fields: 20, files: 5 } });
  } catch (err) {
    return err as Error;
  }
  const form: { data?: string; file?: { ing: Ingested; name: string }; extra?: string } = {};
  const tasks: Promise<void>[] = [];
  bb.on('file', (field, stream, info) => {
    if (field !== 'file' || form.file || tasks.length) {
      form.extra ??= field;
      stream.resume();
      return;
    }
    tasks.push(
      (async () => {
        const ing = await st.core.store.ingest(stream as AsyncIterable<Buffer>, LIMITS.maxFileSize);
        form.file = { ing, name: info.filename ?? '' };
      })(),
    );
  });
  bb.on('field', (field, value) => {
    if (field === 'data' && form.data === undefined) form.data = value;
    else form.extra ??= field;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      bb.on('close', resolve);
      bb.on('error', reject);
      ctx.req.on('error', reject);
      ctx.req.on('close', () => (ctx.req.complete ? undefined : reject(new Error('client aborted'))));
      ctx.req.pipe(bb);
    });
    await Promise.all(tasks);
  } catch (err) {
    ctx.req.unpipe(bb);
    bb.destroy();
    await Promise.allSettled(tasks);
    if (form.file) await st.core.store.discard(form.file.ing);
    return err as Error;
  }
  return form;
}

export function uploadRoute(st: ClaidState) {
  return async (ctx: RequestContext): Promise<void> => {
    const reply = await admit(ctx, st.limiter, st.stats);
    if (!reply) return;
    const form = await readForm(st, ctx);
    if (form instanceof Error) {
      if (ctx.gone) return;
      return reply.detail(['body'], `malformed multipart/form-data (${form.message})`, 'value_error');
    }
    const ing = form.file?.ing;
    try {
      if (form.extra !== undefined) return await reply.detail(['body', form.extra], MESSAGES.extraField, 'value_error.extra');
      if (!form.file) return await reply.detail(['body', 'file'], MESSAGES.fieldRequired, 'value_error.missing');
      if (form.data === undefined) return await reply.detail(['body', 'data'], MESSAGES.fieldRequired, 'value_error.missing');
      let data: Record<string, unknown>;
      try {
        data = JSON.parse(form.data) as Record<string, unknown>;
      } catch (err) {
        return await reply.detail(['body', 'data'], `Invalid JSON (${(err as Error).message})`, 'value_error.jsondecode');
      }
      if (!data || typeof data !== 'object' || Array.isArray(data)) return await reply.detail(['body', 'data'], 'value is not a valid dict', 'type_error.dict');
      for (const k of Object.keys(data))
        if (k !== 'operations' && k !== 'output') return await reply.detail(['body', 'data', k], MESSAGES.extraField, 'value_error.extra');
      const problem = operationsProblem(data.operations) ?? outputProblem(data.output);
      if (problem) return await problemReply(reply, problem);
      const destination = destinationOf(data.output);
      if (destination) {
        if (!st.opts.scopes.includes('storage')) return await reply.error(ERRORS.forbidden);
        const name = parseStorageUri(destination)!.storage;
        if (!(await st.storages.has(name))) return await reply.invalid(MESSAGES.storageUnknown(name), 'output');
      }
      if (form.file.ing.overLimit) return await reply.invalid(MESSAGES.fileTooLarge(form.file.ing.size), 'file');
      const decoded = await readImage(form.file.ing.path, form.file.ing.size);
      if ('problem' in decoded) return await reply.invalid(decoded.problem, 'file');
      const size = outputSize(decoded, (data.operations as Record<string, unknown>).resizing);
      if (Math.max(size.width, size.height) > LIMITS.maxOutputSide) return await reply.invalid(MESSAGES.outputTooLarge(size.width, size.height), 'operations');
      if (!st.charge(CALLS_PER_IMAGE)) return await reply.error(ERRORS.noCallsLeft);
      const { sha256 } = await st.core.store.commit(form.file.ing);
      st.core.stats.receipt(sha256);
      const output = await makeOutput(st.core, st.storages, {
        input: decoded,
        sha256,
        name: form.file.name || 'image',
        operations: data.operations as Record<string, unknown>,
        output: data.output,
      });
      if ('problem' in output) return await reply.invalid(output.problem, 'operations');
      st.stats.uploads++;
      return await reply.ok({ input: inputObject(form.file.name, decoded), output });
    } finally {
      if (ing && !ing.committed) await st.core.store.discard(ing);
    }
  };
}
