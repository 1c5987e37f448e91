/**
 * claid (seed 001, protocols/claid.md): batch image editing — a synchronous upload edit for
 * files, batch jobs over URL lists and storage folders (folders under `--data`), every API route
 * rate limited with `RateLimit-*` headers. Served at the origin (its paths start `/v1/`).
 *
 * This is the declaration the server and `batchup serve` read; the code loads only when a
 * sandbox starts (./protocol.ts).
 */
import { DEFAULT_RATE_LIMIT } from '../../../providers/claid/contract.js';
import { OptionError, type OptionSpec, integerOption } from '../../kit/options.js';
import { defineProtocol } from '../../kit/protocol.js';
import type { ClaidOptions, ClaidStats } from './types.js';

export type { ClaidOptions, ClaidStats };

/** `120;w=60, 4;w=1`: every policy `<requests>;w=<seconds>`, both whole numbers ≥ 1 (kit/rate-limit.ts parses it again). */
function rateLimitText(text: string, what: string): string {
  const items = String(text)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const good = items.length > 0 && items.every((i) => /^[1-9]\d*\s*;\s*w\s*=\s*[1-9]\d*$/.test(i));
  if (!good) throw new OptionError(`${what} takes policies like "120;w=60, 4;w=1" (<requests>;w=<seconds>), got "${text}"`);
  return items.join(', ');
}

const SCOPES = ['image_editing', 'storage'];

const rateLimit: OptionSpec<string> = {
  flag: '--rate-limit <policies>',
  description: 'requests per window and API key, e.g. "30;w=10, 6;w=1"',
  default: DEFAULT_RATE_LIMIT,
  defaultText: `"${DEFAULT_RATE_LIMIT}", the vendor's`,
  parse: (text, flag) => rateLimitText(text, flag),
  check: (value, what) => rateLimitText(String(value), what),
};

function scopeList(value: unknown, what: string): string[] {
  const list = (Array.isArray(value) ? value.map(String) : String(value).split(',')).map((s) => s.trim()).filter(Boolean);
  const bad = list.find((s) => !SCOPES.includes(s));
  if (bad !== undefined) throw new OptionError(`${what}: unknown scope '${bad}' (known: ${SCOPES.join(', ')})`);
  return [...new Set(list)];
}

export const claid = defineProtocol<'claid', ClaidOptions, ClaidStats>({
  name: 'claid',
  endpointPath: '',
  summary: 'batch image edits: sync upload, batch jobs over URLs and storage folders, RateLimit headers',
  options: {
    rateLimit,
    queueMs: integerOption({ flag: '--claid-queue-ms <ms>', description: 'how long a batch stays ACCEPTED, then WAITING', default: 100, min: 0 }),
    pauseMs: integerOption({ flag: '--claid-pause-ms <ms>', description: 'how long a batch stays PAUSED before PROCESSING (0: never)', default: 0, min: 0 }),
    scopes: {
      flag: '--claid-scopes <list>',
      description: 'scopes of every API key (image_editing, storage; without storage the storage endpoints answer 403)',
      default: SCOPES,
      defaultText: SCOPES.join(','),
      parse: scopeList,
      check: scopeList,
    },
    apiCalls: {
      ...integerOption({
        flag: '--claid-api-calls <n>',
        description: 'API calls the account has left (one per edited image; then 402)',
        default: Number.MAX_SAFE_INTEGER,
        min: 0,
      }),
      defaultText: 'unlimited',
    },
  },
  create: async (core, options) => (await import('./protocol.js')).createClaid(core, options),
});
