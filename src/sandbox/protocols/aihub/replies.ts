/** aihub's error answers: `{message}` with the status; a JSON body problem is a 400 in the same shape. */
import { MESSAGES } from '../../../providers/aihub/contract.js';
import type { RequestContext } from '../../kit/context.js';
import { readJsonOr } from '../../kit/json-body.js';

export const fail = (ctx: RequestContext, status: number, message: string, headers: Record<string, string> = {}) => ctx.refuse(status, { message }, headers);

/** A JSON object body, or undefined when a body problem was answered (400) or the client left. */
export const jsonBody = (ctx: RequestContext) => readJsonOr(ctx, (err) => fail(ctx, 400, MESSAGES.invalidBody(err.message)));
