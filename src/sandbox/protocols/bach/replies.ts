/** bach's answers: the `{code, message, data}` envelope, its error codes and messages. */
import { CODES, MESSAGES } from '../../../providers/bach/contract.js';
import type { RequestContext } from '../../kit/context.js';

export const envelope = <T>(data: T) => ({ code: 200, message: MESSAGES.success, data });

export const fail = (ctx: RequestContext, status: number, code: number, message: string) => ctx.refuse(status, { code, message });

/** 400, code 1000: every validation message of the contract. */
export const bad = (ctx: RequestContext, message: string) => fail(ctx, 400, CODES.validation, message);

export const unauthorized = (ctx: RequestContext) => fail(ctx, 401, CODES.unauthorized, MESSAGES.unauthorized);

/** A malformed body (as opposed to a rule it breaks): answered 400 with the contract's wording. */
export class BodyError extends Error {
  constructor(readonly detail: string) {
    super(detail);
  }
}
