/** hybrid's answers: `{success: true, data}` or `{success: false, message}`. */
import { MESSAGES } from '../../../providers/hybrid/contract.js';
import type { RequestContext } from '../../kit/context.js';

export const ok = <T>(ctx: RequestContext, data: T, headers: Record<string, string> = {}) => ctx.json(200, { success: true, data }, headers);

export const fail = (ctx: RequestContext, status: number, message: string, headers: Record<string, string> = {}) =>
  ctx.refuse(status, { success: false, message }, headers);

/** Bearer check of the API routes (never of presigned URLs); false when it answered 401. */
export async function authorized(ctx: RequestContext): Promise<boolean> {
  if (await ctx.authorized()) return true;
  await fail(ctx, 401, MESSAGES.unauthorized);
  return false;
}
