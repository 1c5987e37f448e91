/**
 * The compact journal form of manifest entries (core/journal-codec.ts): whatever goes in comes
 * back exactly, with its fields in the manifest's order, and what is shared or follows from the
 * fingerprint is written once.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeEntries, encodeResults, ordered, type InputResult } from '../../src/core/journal-codec.js';
import type { ManifestEntry } from '../../src/core/manifest.js';

const SHA = (n: number) => createHash('sha256').update(String(n)).digest('hex');
const AT = '2026-12-06T19:46:18.204Z';

function bach(i: number, extra: Partial<ManifestEntry> = {}): InputResult {
  const source = `/tree/d${Math.floor(i / 10)}/img-${i}.png`;
  const fp = { size: 9000 + i, mtimeMs: 1796582902142.7534 + i, sha256: SHA(i + 1) };
  const e: ManifestEntry = {
    source,
    status: 'uploaded',
    provider: 'bach',
    name: `img-${i}.png`,
    size: fp.size,
    sha256: fp.sha256,
    mtimeMs: fp.mtimeMs,
    format: 'png',
    batchId: 'bu-50f3de23086b42489fdc',
    mode: 'async',
    index: i,
    startedAt: AT,
    url: `http://127.0.0.1:43705/cdn/${fp.sha256}.png`,
    expiresAt: '2027-01-05T19:46:18.204Z',
    finishedAt: '2026-12-06T19:46:19.253Z',
    ...extra,
  };
  return { source, entries: [e], fp };
}

/** Encode, decode every input, and compare with what went in (field order: the manifest's). */
function roundTrip(inputs: InputResult[]) {
  const body = JSON.parse(JSON.stringify(encodeResults(inputs))) as ReturnType<typeof encodeResults>;
  body.in.forEach(([source, size, mtimeMs, sha256, diff], pos) => {
    const fp = sha256 === null ? undefined : { size: size!, mtimeMs: mtimeMs!, sha256 };
    const got = decodeEntries(source, fp, body.c, diff, pos);
    const want = inputs[pos]!.entries.map(ordered);
    expect(got).toEqual(want);
    got.forEach((e, i) => expect(Object.keys(e)).toEqual(Object.keys(want[i]!)));
  });
  return body;
}

describe('journal codec', () => {
  it('a batch of bach entries: shared fields once, each input ~150 bytes', () => {
    const inputs = Array.from({ length: 300 }, (_, i) => bach(i));
    const body = roundTrip(inputs);
    expect(body.c).toMatchObject({ status: 'uploaded', provider: 'bach', format: 'png', mode: 'async', startedAt: AT, $i: 1, $n: 1 });
    expect(body.c.$u).toBe('http://127.0.0.1:43705/cdn/');
    expect(body.in[7]![4]).toEqual({ u: '\u0001.png' });
    const perInput = JSON.stringify(body.in).length / 300;
    expect(perInput).toBeLessThan(160);
    // The manifest entry and a `file` record it replaces took over 600.
    expect(JSON.stringify(inputs[7]!.entries[0]).length).toBeGreaterThan(500);
  });

  it('entries that differ from what would follow keep their own values, and say which fields they lack', () => {
    const inputs = [
      bach(0),
      bach(1, { name: 'renamed.png', index: 5, url: 'https://elsewhere/x.png' }),
      bach(2, { sha256: undefined, size: 1, mtimeMs: undefined, name: undefined, index: undefined }),
      bach(3, { status: 'failed', code: 'REMOTE', error: '/tree/d0/img-3.png: failed on the server', url: undefined, expiresAt: undefined }),
      bach(4, { remote: { id: 'v1', nested: { a: [1, 2] } }, download: { path: '/dl/x.png', sha256: SHA(9), size: 3 }, bytesSent: 10 }),
      bach(5, { url: 'http://127.0.0.1:43705/cdn/\u0001odd' }),
    ];
    roundTrip(inputs);
  });

  it('inputs without a fingerprint, several entries per input (a ZIP), one entry alone', () => {
    const zip: InputResult = {
      source: '/tree/set.zip',
      fp: { size: 7902, mtimeMs: 5, sha256: SHA(77) },
      entries: ['a.png', 'b/c.jpg'].map((p, i) => ({
        source: `/tree/set.zip!/${p}`,
        status: 'uploaded',
        provider: 'bach',
        name: `set.zip/${p}`,
        size: 100 + i,
        format: i ? 'jpg' : 'png',
        batchId: 'b1',
        mode: 'sync',
        index: 1,
        url: `https://cdn/${p}`,
      })),
    };
    const url: InputResult = {
      source: 'https://x/a.png',
      entries: [
        { source: 'https://x/a.png', status: 'uploaded', provider: 'bach', name: 'a.png', batchId: 'b1', mode: 'sync', index: 0, url: 'https://cdn/u' },
      ],
    };
    roundTrip([url, zip]);
    roundTrip([zip]);
    roundTrip([bach(3)]);
    roundTrip([{ source: '/a.png', entries: [{ source: '/a.png', status: 'rejected', rule: 'disguised', error: 'a.png: no', provider: 'bach', size: 3 }] }]);
  });

  it('keeps fields it does not know, after the known ones', () => {
    const odd = bach(1, { zzz: 1 } as Partial<ManifestEntry>);
    const odd2 = bach(2, { zzz: 2, other: 'x' } as Partial<ManifestEntry>);
    roundTrip([odd, odd2]);
    roundTrip([bach(3, { zzz: 1 } as Partial<ManifestEntry>), bach(4, { zzz: 1 } as Partial<ManifestEntry>)]);
  });
});
