/**
 * Small JSON request bodies (init calls, batch creation, commits): read whole, bounded, parsed.
 * A body problem is a typed {@link JsonBodyError}; each protocol turns it into its own error
 * envelope and message (so the wording of every existing answer stays the protocol's).
 * A client that aborts mid-body is not a body problem: that error is rethrown as is.
 */
import { BodyTooLarge, type RequestContext } from './context.js';

export const DEFAULT_MAX_JSON_BYTES = 1024 * 1024;

export type JsonBodyProblem = 'too-large' | 'malformed' | 'not-an-object';

export class JsonBodyError extends Error {
  constructor(
    readonly problem: JsonBodyProblem,
    /** The bare reason (for 'malformed': the parser's own message). */
    readonly detail: string,
  ) {
    super(problem === 'malformed' ? `malformed JSON (${detail})` : detail);
    this.name = 'JsonBodyError';
  }
}

export interface ReadJsonOptions {
  /** Default 1 MiB. */
  maxBytes?: number;
  /** Require a JSON object (not an array, string, number or null). Default true. */
  object?: boolean;
}

/** The parsed body; an empty body reads as `null` (then 'not-an-object' when an object is required). */
export async function readJson(ctx: RequestContext, opts: ReadJsonOptions & { object: false }): Promise<unknown>;
export async function readJson(ctx: RequestContext, opts?: ReadJsonOptions): Promise<Record<string, unknown>>;
export async function readJson(ctx: RequestContext, opts: ReadJsonOptions = {}): Promise<unknown> {
  let raw: Buffer;
  try {
    raw = await ctx.readBody(opts.maxBytes ?? DEFAULT_MAX_JSON_BYTES);
  } catch (err) {
    if (err instanceof BodyTooLarge) throw new JsonBodyError('too-large', err.message);
    throw err;
  }
  let v: unknown;
  try {
    v = JSON.parse(raw.toString('utf8') || 'null');
  } catch (err) {
    throw new JsonBodyError('malformed', (err as Error).message);
  }
  if (opts.object !== false && (!v || typeof v !== 'object' || Array.isArray(v))) {
    throw new JsonBodyError('not-an-object', 'the body must be a JSON object');
  }
  return v;
}

/**
 * {@link readJson} of an object, answering a body problem through `answer` (the protocol's 400)
 * and dropping a request whose client went away; undefined when it has answered.
 */
export async function readJsonOr(
  ctx: RequestContext,
  answer: (err: JsonBodyError) => Promise<void>,
  opts: { maxBytes?: number } = {},
): Promise<Record<string, unknown> | undefined> {
  try {
    return await readJson(ctx, { maxBytes: opts.maxBytes });
  } catch (err) {
    if (err instanceof JsonBodyError) await answer(err);
    else ctx.destroy();
    return undefined;
  }
}
