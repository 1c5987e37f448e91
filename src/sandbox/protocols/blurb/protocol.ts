/**
 * blurb's routes: create and get batches (the contract's envelope and checks: the body is
 * refused for the same reasons the client checks before sending), the MP4 of a finished render,
 * and — sandbox only — a PUT that stores a local asset for `batchup render --sandbox` and answers
 * the URL it is served at. `GET /_sandbox/blurb` lists the batches with when each was asked
 * about and which webhooks it posted.
 */
import { checkBody, LIMITS, MESSAGES, PATHS, RENDER_STATUS } from '../../../providers/blurb/contract.js';
import type { RequestContext } from '../../kit/context.js';
import { readJsonOr } from '../../kit/json-body.js';
import { sniffExt } from '../../kit/media.js';
import type { Protocol, SandboxCore } from '../../kit/protocol.js';
import { type BlurbSandboxOptions, BlurbState, type BlurbStats } from './state.js';
import { renderVideo } from './video.js';

const fail = (ctx: RequestContext, status: number, message: string, errors?: { rule: string; message: string }[]) =>
  ctx.refuse(status, { success: false, message, ...(errors ? { data: { errors } } : {}) });

const EXT_BY_TYPE: Record<string, string> = { 'audio/mpeg': 'mp3', 'audio/mp3': 'mp3', 'image/png': 'png', 'image/jpeg': 'jpg' };

export async function createBlurb(core: SandboxCore, opts: BlurbSandboxOptions): Promise<Protocol<BlurbStats>> {
  const st = await BlurbState.open(core, opts);
  const authorized = async (ctx: RequestContext) => {
    if (await ctx.authorized()) return true;
    await fail(ctx, 401, MESSAGES.unauthorized);
    return false;
  };

  async function createBatch(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    const body = await readJsonOr(ctx, (err) => fail(ctx, 400, MESSAGES.invalid, [{ rule: 'body', message: err.message }]));
    if (!body) return;
    const problems = checkBody(body);
    if (problems.length) {
      st.counters.refused++;
      return fail(
        ctx,
        400,
        MESSAGES.invalid,
        problems.map((p) => ({ rule: p.rule, message: `${p.field}: ${p.message}` })),
      );
    }
    if (body.dryRun === true) {
      st.counters.dryRuns++;
      return ctx.json(200, { success: true, message: MESSAGES.dryRun, data: { dryRun: true, batchId: null, renders: [] } });
    }
    const b = await st.create(body);
    return ctx.json(200, { success: true, message: MESSAGES.created, data: st.view(b) });
  }

  async function getBatch(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    const id = ctx.params.id!;
    const b = st.records.get(id);
    st.counters.gets[id] = (st.counters.gets[id] ?? 0) + 1;
    if (!b) return fail(ctx, 404, MESSAGES.notFound(id));
    st.traceOf(id).gets.push(Date.now());
    return ctx.json(200, { success: true, message: MESSAGES.retrieved, data: st.view(b) });
  }

  async function renderFile(ctx: RequestContext): Promise<void> {
    const m = /^(render-[0-9a-f-]{36})\.mp4$/.exec(ctx.params.file!);
    const b = m ? [...st.records.values()].find((x) => x.renders.some((r) => r.renderId === m[1])) : undefined;
    const i = b ? b.renders.findIndex((r) => r.renderId === m![1]) : -1;
    if (!b || st.renderAt(b, i, core.now()).status !== RENDER_STATUS.completed) return ctx.json(404, { success: false, message: 'Not found' });
    return ctx.send(200, { 'content-type': 'video/mp4' }, renderVideo(m![1]!));
  }

  async function hostAsset(ctx: RequestContext): Promise<void> {
    if (!(await authorized(ctx))) return;
    const limit = Math.max(LIMITS.maxAudioBytes, LIMITS.maxArtworkBytes);
    const ing = await core.store.ingest(ctx.req as AsyncIterable<Buffer>, limit).catch(() => undefined);
    if (!ing) return ctx.destroy();
    if (ing.overLimit) {
      await core.store.discard(ing);
      return fail(ctx, 413, 'The asset is too large.');
    }
    const { sha256 } = await core.store.commit(ing);
    const ext =
      EXT_BY_TYPE[
        String(ctx.req.headers['content-type'] ?? '')
          .split(';')[0]!
          .trim()
          .toLowerCase()
      ] ??
      sniffExt(ing.head) ??
      'bin';
    return ctx.json(200, { success: true, message: 'Asset stored', data: { url: core.cdnUrl(sha256, ext) } });
  }

  return {
    routes: [
      { method: 'POST', path: PATHS.batches, name: 'blurb.batches.create', faults: true, handle: createBatch },
      { method: 'GET', path: PATHS.batch(':id').replace('%3Aid', ':id'), name: 'blurb.batches.get', faults: true, handle: getBatch },
      { method: 'GET', path: '/renders/:file', name: 'blurb.renders', handle: renderFile },
      { method: 'PUT', path: PATHS.sandboxAssets, name: 'blurb.sandbox-assets', handle: hostAsset },
      {
        method: 'GET',
        path: '/_sandbox/blurb',
        name: 'sandbox.blurb',
        counted: false,
        handle: (ctx) =>
          ctx.json(200, {
            ...st.counters,
            options: opts,
            batches: [...st.records.values()].map((b) => ({ ...st.view(b), trace: st.traceOf(b.batchId) })),
          }),
      },
    ],
    errorBody: (_status, message) => ({ success: false, message }),
    batchCount: () => st.records.size,
    stats: () => ({ ...st.counters, gets: { ...st.counters.gets } }),
    inspectBatch(id) {
      const b = st.records.get(id);
      return b ? { protocol: 'blurb', ...st.view(b), assets: b.assets, trace: st.traceOf(id) } : undefined;
    },
    close: () => st.close(),
  };
}
