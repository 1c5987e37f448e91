/**
 * Runs validation under the bach policy over the shared real-world corpus
 * (`$BATCHUP_CORPUS`, default `<repo>/../shared/corpus`) and checks every file's verdict
 * against INDEX.tsv. The corpus is read in place; it must exist (no silent skip).
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RejectRule } from '../src/core/types.js';
import { inspect, validateCandidate } from '../src/core/validate/index.js';
import { CORPUS, readCorpusIndex } from './helpers/corpus.js';
import { BufferSource } from '../src/core/validate/source.js';
import { bachPolicy } from '../src/providers/bach/policy.js';

const INDEX = join(CORPUS, 'INDEX.tsv');

/**
 * Where batchup's bach policy deliberately differs from INDEX.tsv. Keep this short, and say why.
 */
const EXCEPTIONS: Record<string, { rule: RejectRule; why: string }> = {
  'file-type/fixture/fixture.apng': {
    rule: 'unsupported-type',
    why: "bach's extension list has no '.apng' (the server would refuse the whole request); the bytes pass as a PNG (checked below)",
  },
  'yauzl/test/failure/End of central directory record signature not found Either not a zip file or file is truncated_1.zip': {
    rule: 'empty-file',
    why: 'a 0-byte file is empty-file for every type; the size check comes before any format check',
  },
};

/** Rules that satisfy each verdict; 'ok' means accepted. */
function expected(verdict: string): (RejectRule | 'ok')[] {
  if (verdict === 'valid-zip-structure') return ['empty-zip']; // well-formed, but no images inside
  if (/^valid-(mp4|mov|webm|mkv|avi)$/.test(verdict)) return ['unsupported-type']; // bach takes no video
  if (verdict.startsWith('valid-')) return ['ok'];
  const map: Record<string, RejectRule[]> = {
    'reject-corrupt': ['corrupt'],
    'reject-disguised': ['disguised'],
    'reject-image-bomb': ['image-bomb'],
    'reject-unsafe-zip': ['unsafe-zip', 'zip-bomb'],
    'reject-encrypted-zip': ['encrypted-zip'],
    'reject-nested-zip': ['nested-zip'],
    'reject-unsupported': ['unsupported-type'],
    'reject-unsafe-svg': ['unsafe-svg'],
  };
  const rules = map[verdict];
  if (!rules) throw new Error(`unknown verdict '${verdict}' in INDEX.tsv`);
  return rules;
}

const rows = readCorpusIndex(CORPUS);

describe('corpus', () => {
  it(`is present at ${CORPUS} (set BATCHUP_CORPUS to override)`, () => {
    expect(existsSync(INDEX), `missing ${INDEX}`).toBe(true);
    expect(rows.length).toBeGreaterThan(100);
  });

  it('has an entry for every exception', () => {
    for (const p of Object.keys(EXCEPTIONS))
      expect(
        rows.some((r) => r.path === p),
        p,
      ).toBe(true);
  });

  describe.each(rows)('$verdict $path', (row) => {
    it('gets the expected verdict', async () => {
      const path = join(CORPUS, row.path);
      const size = statSync(path).size;
      expect(size, 'corpus file differs from INDEX.tsv').toBe(row.bytes);

      const res = await validateCandidate({ source: path, kind: 'file', path, size, order: 0 }, bachPolicy);
      const got = res.ok ? 'ok' : res.rejection.rule;
      const exception = EXCEPTIONS[row.path];
      const want = exception ? [exception.rule] : expected(row.verdict);
      expect(want, res.ok ? 'accepted' : res.rejection.message).toContain(got);

      if (res.ok) {
        expect(res.item.source).toBe(path);
        if (row.verdict === 'valid-zip') expect(res.item.zipEntries?.length ?? 0).toBeGreaterThan(0);
        else expect(res.item.format).toBe(row.verdict.slice('valid-'.length));
      } else {
        expect(res.rejection.source).toBe(path);
        expect(res.rejection.message.startsWith(`${basename(path)}: `)).toBe(true);
        expect(res.rejection.message.endsWith(` (${got})`)).toBe(true);
      }
    });
  });

  it('fixture.apng is a valid PNG apart from its extension', async () => {
    const bytes = readFileSync(join(CORPUS, 'file-type/fixture/fixture.apng'));
    const r = await inspect(new BufferSource(bytes), bytes, 'fixture.png', bachPolicy);
    expect(r.format).toBe('png');
  });
});
