/**
 * claid's front door, for every API route: the bearer check (401 `{error_code: "111", …}`), then
 * the rate limit (kit/rate-limit.ts: fixed windows per API key, `RateLimit-*` headers on every
 * authenticated answer; a 429 has no Retry-After, its body nested under `detail`, and does not
 * count). What it admits gets a {@link Reply} that puts the headers on whatever it answers.
 */
import { randomUUID } from 'node:crypto';
import { ERRORS, type ErrorDetails, REQUEST_ID_HEADER, type ValidationDetail } from '../../../providers/claid/contract.js';
import { bearerToken } from '../../kit/auth.js';
import type { RequestContext } from '../../kit/context.js';
import type { RateLimiter } from '../../kit/rate-limit.js';
import type { ClaidStats } from './types.js';

type ErrorKind = (typeof ERRORS)[Exclude<keyof typeof ERRORS, 'validation'>];

export const errorBody = (e: { code: string; type: string; message: string }, details?: Record<string, string[]>): ErrorDetails => ({
  error_code: e.code,
  error_type: e.type,
  error_message: e.message,
  ...(details ? { error_details: details } : {}),
});

/** The answers of one admitted request, each with its RateLimit headers (and a request id). */
export class Reply {
  constructor(
    private readonly ctx: RequestContext,
    private readonly headers: Record<string, string>,
  ) {}

  ok(data: unknown): Promise<void> {
    return this.ctx.json(200, { data }, { ...this.headers, [REQUEST_ID_HEADER]: randomUUID() });
  }

  /** A documented error (401, 402, 403, 404, 429) in the `error_code` shape. */
  error(e: ErrorKind, message: string = e.message): Promise<void> {
    return this.ctx.refuse(e.status, errorBody({ ...e, message }), this.headers);
  }

  /** 422 in the contract's shape (`9000`, validation), naming the field. */
  invalid(message: string, field?: string): Promise<void> {
    const v = ERRORS.validation;
    return this.ctx.refuse(v.status, errorBody({ ...v, message }, field ? { [field]: [message] } : undefined), this.headers);
  }

  /** 422 in the request-validation shape (`{detail: [{loc, msg, type}]}`). */
  detail(loc: (string | number)[], msg: string, type: string): Promise<void> {
    const d: ValidationDetail[] = [{ loc, msg, type }];
    return this.ctx.refuse(422, { detail: d }, this.headers);
  }
}

/** The body of an answer the server gives by itself (injected faults): a 429 nested under `detail`. */
export function faultBody(status: number, message: string): unknown {
  const body = errorBody({ code: String(status), type: 'general', message });
  return status === 429 ? { detail: body } : body;
}

/** Auth, then the rate limit; answers 401/429 itself and returns undefined then. */
export async function admit(ctx: RequestContext, limiter: RateLimiter, stats: ClaidStats): Promise<Reply | undefined> {
  if (!(await ctx.authorized())) {
    await ctx.refuse(401, errorBody(ERRORS.unauthorized));
    return undefined;
  }
  const d = limiter.take(bearerToken(ctx.req.headers.authorization));
  if (!d.admitted) {
    stats.rateLimited++;
    await ctx.refuse(429, { detail: errorBody(ERRORS.rateLimited) }, d.headers);
    return undefined;
  }
  return new Reply(ctx, d.headers);
}
