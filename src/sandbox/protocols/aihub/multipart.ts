/**
 * aihub's multipart sessions (files over 10 MB). Parts stream to temp files as they arrive; each
 * must have exactly the size its number implies, and (PARTS_IN_ORDER) part n + 1 is refused until
 * part n was acknowledged. A commit must list every part 1..N with its latest part_id; it then
 * assembles the file into the store as the batch's file of that name.
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { LIMITS, MESSAGES, PARTS_IN_ORDER, expectedPartSize, expectedParts, nameProblem } from '../../../providers/aihub/contract.js';
import type { RequestContext } from '../../kit/context.js';
import { AIHUB_BASE } from './paths.js';
import { fail, jsonBody } from './replies.js';
import type { AihubState, Session, SessionPart } from './state.js';
import type { AihubBatch } from './types.js';

export function multipartRoutes(st: AihubState) {
  const { core, counters } = st;

  /** The batch of a session start: `{batch_id, filename}`, or the older guide's `{path}`; undefined when it answered. */
  async function target(ctx: RequestContext, body: Record<string, unknown>): Promise<{ b: AihubBatch; filename: string } | undefined> {
    if (body.batch_id !== undefined) {
      if (typeof body.filename !== 'string') return void (await fail(ctx, 400, MESSAGES.invalidBody("'filename' must be a string")));
      const b = st.batchOf(body.batch_id);
      if (!b) return void (await fail(ctx, 404, MESSAGES.batchNotFound(String(body.batch_id))));
      return { b, filename: body.filename };
    }
    if (typeof body.path !== 'string') return void (await fail(ctx, 400, MESSAGES.invalidBody("give 'batch_id' and 'filename', or 'path'")));
    // A drive path ending <path_suffix>/<filename> (or <batch id>/<filename>).
    const path = body.path.replace(/^\/+/, '');
    const cut = path.lastIndexOf('/');
    if (cut <= 0) return void (await fail(ctx, 400, MESSAGES.invalidBody("'path' must end with <batch>/<filename>")));
    const folder = path.slice(0, cut);
    let b = st.allBatches().find((x) => folder === x.path_suffix || folder.endsWith(`/${x.path_suffix}`));
    const byId = /(?:^|\/)(\d+)$/.exec(folder);
    if (!b && byId) b = st.batchOf(byId[1]);
    if (!b) return void (await fail(ctx, 404, MESSAGES.batchNotFound(folder)));
    return { b, filename: path.slice(cut + 1) };
  }

  /** Why a commit's part list does not cover the file, or undefined. */
  function coverage(s: Session, raw: unknown): string | undefined {
    if (!Array.isArray(raw)) return "'parts' must be a list of {part_num, part_id}";
    const want = expectedParts(s.file_size, s.part_size);
    const seen = new Map<number, unknown>();
    for (const p of raw as unknown[]) {
      const o = (p ?? {}) as Record<string, unknown>;
      const n = Number(o.part_num);
      if (!Number.isSafeInteger(n) || n < 1) return 'every part needs an integer part_num';
      if (seen.has(n)) return `part ${n} is listed twice`;
      seen.set(n, o.part_id);
    }
    for (let n = 1; n <= want; n++) {
      if (!seen.has(n)) return `part ${n} is missing (the file has ${want} part(s))`;
      const have = s.parts.get(n);
      if (!have) return `part ${n} was never uploaded`;
      if (String(seen.get(n)) !== String(have.part_id)) return `part ${n} has part_id ${String(seen.get(n))}; the latest upload of it is ${have.part_id}`;
    }
    for (const n of seen.keys()) if (n > want) return `part ${n} is beyond the end of the file (${want} part(s))`;
    return undefined;
  }

  /** The parts, in order, into one temp file, accepted as the batch's file. */
  async function assemble(s: Session, b: AihubBatch): Promise<void> {
    const w = core.store.tempWriter();
    try {
      for (let n = 1; n <= expectedParts(s.file_size, s.part_size); n++) {
        const p = s.parts.get(n);
        if (!p) continue; // an empty file: no part bodies
        for await (const chunk of createReadStream(p.path) as AsyncIterable<Buffer>) {
          if (w.write(chunk)) await w.drained();
        }
      }
      await st.accept(b, s.filename, await w.finish(), 'multipart');
    } catch (err) {
      await w.discard();
      throw err;
    }
  }

  return {
    async startSession(ctx: RequestContext): Promise<void> {
      if (!(await st.enter(ctx))) return;
      const body = await jsonBody(ctx);
      if (!body) return;
      const size = body.file_size;
      if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
        return fail(ctx, 400, MESSAGES.invalidBody("'file_size' must be a non-negative integer"));
      }
      const t = await target(ctx, body);
      if (!t) return;
      st.noteBatch(ctx, t.b);
      if (nameProblem(t.filename)) return fail(ctx, 400, MESSAGES.invalidFilename(t.filename));
      if (size > LIMITS.maxFileSize) return fail(ctx, 413, 'The file is too large.');
      const s: Session = {
        id: randomBytes(12).toString('hex'),
        batch_id: t.b.id,
        filename: t.filename,
        file_size: size,
        part_size: st.opts.partSize,
        parts: new Map(),
        acked: 0,
        committing: false,
      };
      st.sessions.set(s.id, s);
      counters.sessionsStarted++;
      return ctx.json(201, { session_id: s.id, part_size: s.part_size }, { location: `${core.origin}${AIHUB_BASE}/batches/multipart-upload/sessions/${s.id}` });
    },

    async putPart(ctx: RequestContext): Promise<void> {
      if (!(await st.enter(ctx))) return;
      const s = st.sessions.get(ctx.params.session_id!);
      if (!s) return fail(ctx, 404, MESSAGES.sessionNotFound(ctx.params.session_id!));
      const b = st.batchOf(s.batch_id);
      if (b) st.noteBatch(ctx, b);
      const raw = ctx.params.part_num!;
      const n = /^\d+$/.test(raw) ? Number(raw) : NaN;
      const max = expectedParts(s.file_size, s.part_size);
      if (!Number.isSafeInteger(n) || n < 1 || n > max) return fail(ctx, 400, MESSAGES.partOutOfRange(Number.isNaN(n) ? 0 : n, max));
      if (PARTS_IN_ORDER && n > s.acked + 1) {
        counters.partsOutOfOrder++;
        return fail(ctx, 400, MESSAGES.partOutOfOrder(n, s.acked + 1));
      }
      const want = expectedPartSize(s.file_size, s.part_size, n);
      const ing = await st.ingestBody(ctx, want);
      if (!ing) return ctx.destroy();
      if (ing.size !== want) {
        await core.store.discard(ing);
        return fail(ctx, 400, MESSAGES.partWrongSize(n, ing.size, want));
      }
      if (st.sessions.get(s.id) !== s) {
        await core.store.discard(ing);
        return fail(ctx, 404, MESSAGES.sessionNotFound(s.id));
      }
      const prev = s.parts.get(n);
      const part: SessionPart = { part_id: st.nextPartId(), path: ing.path, size: ing.size };
      s.parts.set(n, part);
      if (prev) await core.store.discard(prev.path);
      while (s.parts.has(s.acked + 1)) s.acked++;
      counters.partsReceived++;
      return ctx.json(201, { part_id: part.part_id, part_num: n });
    },

    async sessionAction(ctx: RequestContext): Promise<void> {
      if (!(await st.enter(ctx))) return;
      const s = st.sessions.get(ctx.params.session_id!);
      if (!s) return fail(ctx, 404, MESSAGES.sessionNotFound(ctx.params.session_id!));
      const body = await jsonBody(ctx);
      if (!body) return;
      const b = st.batchOf(s.batch_id);
      if (b) st.noteBatch(ctx, b);
      if (body.action === 'abort') {
        await st.dropSession(s.id);
        counters.sessionsAborted++;
        return ctx.send(204, {});
      }
      if (body.action !== 'commit') return fail(ctx, 400, MESSAGES.badAction);
      if (s.committing) return fail(ctx, 409, 'A commit of this session is in progress.');
      const problem = coverage(s, body.parts);
      if (problem) return fail(ctx, 400, MESSAGES.commitIncomplete(problem));
      if (!b) {
        await st.dropSession(s.id);
        return fail(ctx, 404, MESSAGES.batchNotFound(String(s.batch_id)));
      }
      s.committing = true;
      try {
        await assemble(s, b);
      } catch (err) {
        s.committing = false;
        throw err;
      }
      await st.dropSession(s.id);
      counters.sessionsCommitted++;
      return ctx.send(204, {});
    },
  };
}
