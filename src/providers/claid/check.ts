/**
 * URL pre-checks, before any batch is submitted. One input that cannot be fetched or decoded
 * makes claid fail its whole batch (`ERROR`, no results), so every URL is probed first: a ranged
 * GET of its first bytes (core/probe.ts: redirects followed, never with the API key), judged by
 * its content under claid's policy (core/validate `inspectHead`). A dead URL is `unreachable`
 * (naming the HTTP status), a PDF named `.jpg` is `disguised`, a format claid does not take is
 * `unsupported-type`. `--no-check-urls` skips all of it.
 */
import { mapPool } from '../../core/pool.js';
import { probeUrl } from '../../core/probe.js';
import type { CheckContext, Screened } from '../../core/provider.js';
import type { Item } from '../../core/types.js';
import { inspectHead } from '../../core/validate/index.js';
import { Problem } from '../../core/validate/source.js';
import { LIMITS } from './contract.js';
import type { ClaidOptions } from './options.js';
import { claidPolicy } from './policy.js';

export async function checkUrls(items: readonly Item[], ctx: CheckContext<ClaidOptions>): Promise<Screened[]> {
  if (!ctx.options.checkUrls) return [];
  const urls = items.filter((it) => it.kind === 'url');
  const found = await mapPool(urls, ctx.concurrency, async (item): Promise<Screened | undefined> => {
    const url = item.url ?? item.source;
    if (url.length > LIMITS.maxUrlLength)
      return { item, rule: 'bad-url', detail: `the URL is ${url.length} characters long, over claid's ${LIMITS.maxUrlLength}` };
    const probe = await probeUrl(ctx.http, url, { signal: ctx.signal });
    if (!probe.ok) return { item, rule: 'unreachable', detail: `cannot be fetched (${probe.reason})` };
    try {
      await inspectHead(probe.head, item.name, claidPolicy, probe.size);
      return undefined;
    } catch (err) {
      if (err instanceof Problem) return { item, rule: err.rule, detail: err.detail };
      throw err;
    }
  });
  return found.filter((s): s is Screened => s !== undefined);
}
