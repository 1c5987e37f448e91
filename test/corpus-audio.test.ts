/**
 * blurb's rule "the audio must really be MP3" over the real audio files of the shared corpus
 * (`$BATCHUP_CORPUS/audio`, default `<repo>/../shared/corpus/audio`), each against its verdict in
 * that folder's own INDEX.tsv. The corpus is read in place; it must exist (no silent skip).
 */
import { existsSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { validateCandidate } from '../src/core/validate/index.js';
import { CORPUS, readCorpusIndex } from './helpers/corpus.js';
import { BufferSource } from '../src/core/validate/source.js';
import { checkMp3 } from '../src/core/validate/mp3.js';
import { audioPolicy } from '../src/providers/blurb/contract.js';

const DIR = join(CORPUS, 'audio');
const INDEX = join(DIR, 'INDEX.tsv');

const RULES: Record<string, string> = { 'valid-mp3': 'ok', 'reject-unsupported': 'unsupported-type', 'reject-disguised': 'disguised' };
const rows = readCorpusIndex(DIR);

describe('corpus: audio (blurb MP3 rule)', () => {
  it(`is present at ${DIR} (set BATCHUP_CORPUS to override)`, () => {
    expect(existsSync(INDEX), `missing ${INDEX}`).toBe(true);
    expect(rows.length).toBeGreaterThanOrEqual(20);
    expect(new Set(rows.map((r) => r.verdict))).toEqual(new Set(Object.keys(RULES)));
  });

  describe.each(rows)('$verdict $path', (row) => {
    it('gets the expected verdict', async () => {
      const path = join(DIR, row.path);
      const size = statSync(path).size;
      expect(size, 'corpus file differs from INDEX.tsv').toBe(row.bytes);
      const want = RULES[row.verdict];
      expect(want, `unknown verdict ${row.verdict}`).toBeDefined();
      const res = await validateCandidate({ source: path, kind: 'file', path, size, order: 0 }, audioPolicy);
      const got = res.ok ? 'ok' : res.rejection.rule;
      expect(got, res.ok ? 'accepted' : res.rejection.message).toBe(want);
      if (res.ok) expect(res.item.format).toBe('mp3');
      else expect(res.rejection.message.startsWith(`${basename(path)}: `)).toBe(true);
    });
  });
});

describe('MP3 frames, not tags or one sync', () => {
  const frame = (len = 417) => {
    // MPEG-1 Layer III, 128 kbps, 44.1 kHz, no padding: 417 bytes.
    const f = Buffer.alloc(len);
    f.set([0xff, 0xfb, 0x90, 0x64]);
    return f;
  };
  const id3 = (body: number) => Buffer.concat([Buffer.from([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, (body >> 7) & 0x7f, body & 0x7f]), Buffer.alloc(body)]);
  const check = (b: Buffer) =>
    checkMp3(new BufferSource(b)).then(
      () => 'ok',
      (e) => e.rule,
    );

  it('an ID3 tag alone, or a tag and one frame sync followed by noise, is not MP3', async () => {
    expect(await check(Buffer.concat([id3(100), Buffer.alloc(4000, 7)]))).toBe('corrupt');
    expect(await check(Buffer.concat([id3(100), frame(), Buffer.alloc(4000, 0x55)]))).toBe('corrupt');
  });

  it('four frames in a row after a tag are MP3; so are three that end the file', async () => {
    expect(await check(Buffer.concat([id3(100), frame(), frame(), frame(), frame(), Buffer.alloc(100)]))).toBe('ok');
    expect(await check(Buffer.concat([id3(100), frame(), frame(), frame()]))).toBe('ok');
    expect(await check(Buffer.concat([id3(100), frame(), frame(), frame(), Buffer.alloc(500)]))).toBe('corrupt');
  });
});
