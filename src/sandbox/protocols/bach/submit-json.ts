/**
 * `POST /batch-upload/submit` (async, JSON of URLs / Base64): the body is read as a stream
 * (async-intake.ts); Base64 items are stored at once, URL items are fetched after the answer
 * (url-items.ts). Validation order: batch_id reuse, empty list, too many, then the lowest-index
 * item error (exactly one source, Base64 syntax, size).
 */
import { MESSAGES } from '../../../providers/bach/contract.js';
import type { RequestContext } from '../../kit/context.js';
import type { SandboxCore } from '../../kit/protocol.js';
import { AsyncIntake } from './async-intake.js';
import { pickExt, type BachBatches, type BachItem } from './batches.js';
import { JsonScanner, JsonSyntaxError } from './json-stream.js';
import { BodyError, bad, unauthorized } from './replies.js';
import { acceptSubmit, batchRuleBroken } from './submit.js';

export function submitJson(core: SandboxCore, batches: BachBatches) {
  return async (ctx: RequestContext): Promise<void> => {
    if (!(await ctx.authorized())) return unauthorized(ctx);
    const intake = new AsyncIntake(core.store);
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

    const { batchId, count } = intake;
    const broken = batchRuleBroken(batches, batchId, count) ?? intake.firstError;
    if (broken !== undefined) {
      await intake.cleanup();
      return bad(ctx, broken);
    }

    return acceptSubmit(ctx, core, batches, {
      batchId,
      count,
      path: 'submit',
      cleanup: () => intake.cleanup(),
      async build() {
        const items: BachItem[] = [];
        for (const it of intake.items) {
          if (it.url) {
            items.push({ index: it.index, image_name: it.name, kind: 'url', source_url: it.url, done: false });
          } else {
            const { sha256, size } = await core.store.commit(it.ing!);
            items.push({ index: it.index, image_name: it.name, kind: 'base64', sha256, size, ext: pickExt(it.name, it.ing!.head), done: true });
          }
        }
        return items;
      },
    });
  };
}
