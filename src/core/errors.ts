/**
 * The one error base class. `code` is a stable string that scripts, the manifest and the exit-code
 * map rely on; `retryable` tells the retry loop whether trying again can help.
 */
export type ErrorCode =
  | 'USAGE' // bad flags / arguments
  | 'CONFIG' // bad or missing configuration
  | 'AUTH' // 401 / 403 from the API, bad key pair
  | 'VALIDATION' // a file broke a pre-upload rule
  | 'HTTP' // an HTTP status we do not retry (4xx)
  | 'HTTP_RETRYABLE' // 408/409/429/5xx
  | 'NETWORK' // reset, refused, timeout
  | 'PROTOCOL' // the server answered something the contract does not allow
  | 'REMOTE' // the server processed the item and reported failure
  | 'NOT_FOUND' // e.g. bach 404 code 1203
  | 'UNKNOWN_OUTCOME' // a submission whose answer was lost, that cannot be looked up
  | 'QUOTA' // the account has no calls (credits) left (e.g. HTTP 402)
  | 'INTERRUPTED' // SIGINT / SIGTERM
  | 'INTERNAL';

export class BatchupError extends Error {
  readonly code: ErrorCode;
  readonly retryable: boolean;
  /** HTTP status, when the error came from a response. */
  readonly status?: number;
  /** Seconds the server asked us to wait (Retry-After), when it did. */
  readonly retryAfter?: number;

  constructor(code: ErrorCode, message: string, opts: { retryable?: boolean; status?: number; retryAfter?: number; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'BatchupError';
    this.code = code;
    this.retryable = opts.retryable ?? (code === 'HTTP_RETRYABLE' || code === 'NETWORK');
    this.status = opts.status;
    this.retryAfter = opts.retryAfter;
  }
}

export const usageError = (message: string) => new BatchupError('USAGE', message);
export const configError = (message: string) => new BatchupError('CONFIG', message);
/** The error every step throws once the run's signal is aborted (Ctrl-C, a fatal error elsewhere). */
export const interrupted = (cause?: unknown) => new BatchupError('INTERRUPTED', 'interrupted', { retryable: false, cause });

/** Wrap anything thrown into a BatchupError, keeping the original as `cause`. */
export function toBatchupError(err: unknown): BatchupError {
  if (err instanceof BatchupError) return err;
  const e = err as NodeJS.ErrnoException | undefined;
  const netCodes = new Set([
    'ECONNRESET',
    'ECONNREFUSED',
    'EPIPE',
    'ETIMEDOUT',
    'ENOTFOUND',
    'EAI_AGAIN',
    'ECONNABORTED',
    'UND_ERR_SOCKET',
    'UND_ERR_CONNECT_TIMEOUT',
    'UND_ERR_HEADERS_TIMEOUT',
    'UND_ERR_BODY_TIMEOUT',
    'UND_ERR_CLOSED',
    'UND_ERR_ABORTED',
  ]);
  const cause = e?.cause as NodeJS.ErrnoException | undefined;
  const code = e?.code ?? cause?.code;
  if (code && netCodes.has(code)) return new BatchupError('NETWORK', `network error: ${networkWords(code, e, cause)}`, { cause: err });
  return new BatchupError('INTERNAL', e?.message ?? String(err), { cause: err });
}

/** What a network error code means, with the host when the system named it: "host api.x not found (ENOTFOUND)". */
function networkWords(code: string, ...errs: (NodeJS.ErrnoException | undefined)[]): string {
  const host = errs.map((x) => (x as { hostname?: string } | undefined)?.hostname ?? /(?:ENOTFOUND|EAI_AGAIN) (\S+)/.exec(x?.message ?? '')?.[1]).find(Boolean);
  const words: Record<string, string> = {
    ECONNREFUSED: 'connection refused',
    ECONNRESET: 'connection reset',
    ENOTFOUND: host ? `host ${host} not found` : 'host not found',
    EAI_AGAIN: host ? `host ${host} cannot be resolved now` : 'host name cannot be resolved now',
    ETIMEDOUT: 'timed out',
    UND_ERR_CONNECT_TIMEOUT: 'timed out connecting',
    UND_ERR_HEADERS_TIMEOUT: 'no answer in time',
    UND_ERR_BODY_TIMEOUT: 'the answer stalled',
    UND_ERR_SOCKET: 'connection broke',
    EPIPE: 'connection broke',
  };
  return words[code] ? `${words[code]} (${code})` : code;
}
