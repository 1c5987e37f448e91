/**
 * blurb's own flags and their typed options, checked before any spec is read: how to wait
 * (polling, or a webhook receiver with a slow safety poll), where local assets are published
 * (`--asset-base-url`, or the sandbox of `--sandbox`), the template of a CSV catalog, and the
 * batches whose submission outcome is unknown that may be sent again (`--resubmit`).
 */
import { usageError } from '../../core/errors.js';
import { durationFlag } from '../../core/parse.js';
import type { FlagSpec, FlagValues, RunSettings } from '../../core/provider.js';
import { isHttpUrl } from './contract.js';

export const BLURB_FLAGS: FlagSpec[] = [
  {
    flags: '--webhook-listen <[host:]port>',
    description: 'wait by webhooks: a local receiver on this address (host default 127.0.0.1; each webhook only triggers a GET of its batch)',
    key: 'webhookListen',
  },
  {
    flags: '--webhook-url <url>',
    description: 'the URL the vendor posts webhooks to, reaching --webhook-listen (default http://HOST:PORT/batchup/webhook)',
    key: 'webhookUrl',
  },
  {
    flags: '--webhook-poll <duration>',
    description: 'with --webhook-listen: ask anyway this often, in case a webhook is lost (default 60s)',
    key: 'webhookPoll',
  },
  {
    flags: '--asset-base-url <url>',
    description: 'where the folders of the specs are published: a local asset is sent as this URL + its path relative to its spec',
    key: 'assetBaseUrl',
  },
  {
    flags: '--template <file>',
    description: 'a CSV catalog of tracks becomes one batch per row: this JSON gives its renders (and {{column}} placeholders)',
    key: 'template',
  },
  {
    flags: '--resubmit <ref>',
    description: 'send this batch again although an interrupted run may have created it (its answer was lost; repeatable)',
    key: 'resubmit',
    repeatable: true,
  },
];

export const WEBHOOK_PATH = '/batchup/webhook';
export const DEFAULT_SAFETY_POLL_MS = 60_000;

export interface BlurbOptions {
  webhook?: { host: string; port: number; url?: string; safetyPollMs: number };
  /** Local assets: published under this URL (ends in '/'). */
  assetBaseUrl?: string;
  /** Local assets: uploaded to the sandbox of --sandbox. */
  sandboxAssets: boolean;
  /** --template, as typed (resolved against the working folder when read). */
  template?: string;
  resubmit: string[];
}

const text = (v: FlagValues[string]) => (typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined);

/** `8787`, `127.0.0.1:8787`, `[::1]:8787`, `:8787` → host and port. */
export function parseListen(raw: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]:|([^:]*):)?(\d{1,5})$/.exec(raw.trim());
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65_535) throw usageError(`--webhook-listen takes [HOST:]PORT, e.g. 8787 or 127.0.0.1:8787, got "${raw}"`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function blurbOptions(values: FlagValues, run: Pick<RunSettings, 'sandbox'>): BlurbOptions {
  const listen = text(values.webhookListen);
  const url = text(values.webhookUrl);
  const poll = text(values.webhookPoll);
  if ((url || poll) && !listen) throw usageError(`${url ? '--webhook-url' : '--webhook-poll'} needs --webhook-listen (the receiver it belongs to)`);
  let webhook: BlurbOptions['webhook'];
  if (listen) {
    const { host, port } = parseListen(listen);
    if (url && !isHttpUrl(url)) throw usageError(`--webhook-url must be an http(s) URL, got "${url}"`);
    if (!url && (host === '0.0.0.0' || host === '::' || port === 0)) {
      throw usageError(`--webhook-listen ${listen}: give --webhook-url too (the address the vendor reaches the receiver at)`);
    }
    const safetyPollMs = poll ? durationFlag(poll, '--webhook-poll', { min: 100 }) : DEFAULT_SAFETY_POLL_MS;
    webhook = { host, port, url, safetyPollMs };
  }
  const base = text(values.assetBaseUrl);
  if (base && !isHttpUrl(base)) throw usageError(`--asset-base-url must be an http(s) URL, got "${base}"`);
  if (base && run.sandbox) throw usageError('--asset-base-url and --sandbox cannot be combined (--sandbox hosts the local assets itself)');
  const resubmit = (Array.isArray(values.resubmit) ? values.resubmit : typeof values.resubmit === 'string' ? [values.resubmit] : []).map((r) => r.trim());
  return {
    webhook,
    assetBaseUrl: base ? (base.endsWith('/') ? base : `${base}/`) : undefined,
    sandboxAssets: !!run.sandbox,
    template: text(values.template),
    resubmit: resubmit.filter(Boolean),
  };
}

/** The local receiver's address as the vendor is told it. */
export const webhookUrlOf = (w: NonNullable<BlurbOptions['webhook']>, port: number) =>
  w.url ?? `http://${w.host.includes(':') ? `[${w.host}]` : w.host}:${port}${WEBHOOK_PATH}`;
