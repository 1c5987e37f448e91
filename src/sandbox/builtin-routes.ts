/** The sandbox's own routes: health, stats, batch inspection for tests, and the `/cdn` of stored objects. */
import type { Protocol, Route, SandboxCore } from './kit/protocol.js';
import { contentTypeOf } from '../core/media-types.js';

export function builtinRoutes(core: SandboxCore, protocols: readonly Protocol[], cdn: { ttlSec?: number } = {}): Route[] {
  const ttlMs = (cdn.ttlSec ?? 0) * 1000;
  return [
    {
      method: 'GET',
      path: '/_sandbox/health',
      name: 'sandbox.health',
      counted: false,
      handle: (ctx) => ctx.json(200, { status: 'ok' }),
    },
    {
      method: 'GET',
      path: '/_sandbox/stats',
      name: 'sandbox.stats',
      counted: false,
      handle: (ctx) => ctx.json(200, core.stats.snapshot()),
    },
    {
      method: 'GET',
      path: '/_sandbox/batches/:id',
      name: 'sandbox.batch',
      counted: false,
      async handle(ctx) {
        for (const p of protocols) {
          const info = p.inspectBatch?.(ctx.params.id!);
          if (info !== undefined) return ctx.json(200, info);
        }
        return ctx.json(404, { code: 404, message: `No batch '${ctx.params.id}'.` });
      },
    },
    {
      method: 'GET',
      path: '/cdn/:file',
      name: 'cdn',
      async handle(ctx) {
        const m = /^([0-9a-f]{64})(?:\.([A-Za-z0-9]{1,10}))?$/.exec(ctx.params.file!);
        const size = m ? core.store.sizeOf(m[1]!) : undefined;
        if (!m || size === undefined) return ctx.json(404, { code: 404, message: 'Not found.' });
        const sha = m[1]!;
        if (ttlMs && core.now() - (core.store.storedAt(sha) ?? 0) >= ttlMs) return ctx.json(410, { code: 410, message: 'Expired.' });
        return ctx.send(
          200,
          {
            'content-type': contentTypeOf(m[2] ?? ''),
            'content-length': size,
            etag: `"${sha}"`,
            'cache-control': 'public, max-age=2592000, immutable',
          },
          ctx.req.method === 'HEAD' ? undefined : core.store.read(sha),
        );
      },
    },
  ];
}
