/**
 * The asset pre-checks (the provider's `check`), before any batch is created: every artwork must
 * be a square PNG or JPEG and every audio really MP3, for URLs (one ranged GET of the first
 * bytes, redirects followed, no credentials; judged by the bytes, never by Content-Type) and
 * local files alike. A dead URL is named with its HTTP status. One asset used by several batches
 * is fetched once.
 */
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { probeUrl, PROBE_BYTES } from '../../core/probe.js';
import { mapPool } from '../../core/pool.js';
import type { CheckContext, Screened } from '../../core/provider.js';
import type { Item, RejectRule } from '../../core/types.js';
import { inspectHead, validateCandidate } from '../../core/validate/index.js';
import { checkMp3, id3v2Length, MP3_WINDOW } from '../../core/validate/mp3.js';
import { fail, Problem as ValidationProblem, type ByteSource } from '../../core/validate/source.js';
import { type AssetKind, artworkPolicy, audioPolicy } from './contract.js';
import { imageSize } from './image-head.js';
import type { BlurbOptions } from './options.js';
import { describeProblems, payloadOf, type AssetRef, type Problem } from './spec.js';

/** The most of a URL read to find an MP3's frames behind a large ID3 tag (cover art) or a JPEG's frame header. */
const MAX_PROBE_BYTES = 16 * 1024 * 1024;

type Verdict = { rule: RejectRule; detail: string } | undefined;

/** The head of a remote file as a byte source of its real size (reads past the head find nothing). */
const headSource = (head: Buffer, size: number): ByteSource => ({
  size,
  read: async (at, n) => head.subarray(Math.min(at, head.length), Math.min(head.length, at + n)),
});

function square(width: number | undefined, height: number | undefined): Verdict {
  if (!width || !height) return { rule: 'corrupt', detail: 'its dimensions are not in its header' };
  if (width !== height) return { rule: 'not-square', detail: `artwork must be square, this one is ${width}×${height}` };
  return undefined;
}

async function checkLocal(path: string, kind: AssetKind): Promise<Verdict> {
  const st = await stat(path).catch(() => undefined);
  if (!st?.isFile()) return { rule: 'unreadable', detail: `no such file (${path})` };
  const res = await validateCandidate(
    { source: path, kind: 'file', path, size: st.size, mtimeMs: st.mtimeMs, order: 0 },
    kind === 'audio' ? audioPolicy : artworkPolicy,
  );
  if (!res.ok) return { rule: res.rejection.rule, detail: res.rejection.message.slice(basename(path).length + 2).replace(/ \([a-z-]+\)$/, '') };
  return kind === 'artwork' ? square(res.item.width, res.item.height) : undefined;
}

async function checkUrl(url: string, kind: AssetKind, ctx: CheckContext<BlurbOptions>): Promise<Verdict> {
  const probe = (bytes: number) => probeUrl(ctx.http, url, { bytes, signal: ctx.signal });
  let p = await probe(PROBE_BYTES);
  if (!p.ok) return { rule: 'unreachable', detail: p.reason };
  const name = decodeURIComponent(new URL(p.url).pathname.split('/').pop() ?? '') || new URL(p.url).hostname;
  const size = p.size ?? p.head.length;
  // Behind a large ID3 tag (cover art), the frames are further in than one head: ask for them.
  const tag = kind === 'audio' ? id3v2Length(p.head) : 0;
  if (tag && tag + MP3_WINDOW > p.head.length && size > p.head.length) {
    const more = await probe(Math.min(MAX_PROBE_BYTES, tag + MP3_WINDOW));
    if (!more.ok) return { rule: 'unreachable', detail: more.reason };
    p = more;
  }
  try {
    const { format } = await inspectHead(p.head, name, kind === 'audio' ? audioPolicy : artworkPolicy, p.size);
    if (kind === 'audio') {
      await checkMp3(headSource(p.head, size));
      return undefined;
    }
    let dims = imageSize(p.head, format);
    if (dims && 'more' in dims && dims.more <= MAX_PROBE_BYTES && size > p.head.length) {
      const more = await probe(Math.min(MAX_PROBE_BYTES, dims.more + 64 * 1024));
      dims = more.ok ? imageSize(more.head, format) : undefined;
    }
    if (!dims || 'more' in dims) return fail('corrupt', `no ${format.toUpperCase()} dimensions in its first bytes`);
    return square(dims.width, dims.height);
  } catch (err) {
    if (err instanceof ValidationProblem) return { rule: err.rule, detail: err.detail };
    throw err;
  }
}

/** One Screened per batch with any asset problem (all of its problems in one message). */
export async function checkAssets(items: readonly Item[], ctx: CheckContext<BlurbOptions>): Promise<Screened[]> {
  const verdicts = new Map<string, Promise<Verdict>>();
  const verdict = (a: AssetRef): Promise<Verdict> => {
    const key = `${a.kind}\0${a.local ?? a.value}`;
    let v = verdicts.get(key);
    if (!v) {
      v = a.local ? checkLocal(a.local, a.kind) : checkUrl(a.value, a.kind, ctx);
      verdicts.set(key, v);
    }
    return v;
  };
  const out: Screened[] = [];
  await mapPool(items, ctx.concurrency, async (it) => {
    const p = payloadOf(it);
    const problems: Problem[] = [];
    for (const a of p.assets) {
      const v = await verdict(a);
      if (v) problems.push({ field: a.field, rule: v.rule, detail: `${a.value}: ${v.detail}` });
    }
    if (problems.length) out.push({ item: it, ...describeProblems(p.position, p.ref, problems) });
  });
  return out.sort((a, b) => a.item.order - b.item.order);
}
