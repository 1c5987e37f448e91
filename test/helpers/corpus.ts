/** The shared real-world corpus, read in place: `$BATCHUP_CORPUS`, default `<repo>/../shared/corpus`. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const CORPUS = resolve(process.env.BATCHUP_CORPUS ?? join(here, '..', '..', '..', 'shared', 'corpus'));

export interface CorpusRow {
  path: string;
  verdict: string;
  note: string;
  bytes: number;
}

/** The rows of `dir`'s INDEX.tsv (tab-separated, columns by header name); none if it is missing. */
export function readCorpusIndex(dir: string): CorpusRow[] {
  const index = join(dir, 'INDEX.tsv');
  if (!existsSync(index)) return [];
  const [header, ...lines] = readFileSync(index, 'utf8')
    .split('\n')
    .filter((l) => l.trim() !== '');
  const cols = header!.split('\t');
  const at = (name: string) => cols.indexOf(name);
  return lines.map((l) => {
    const f = l.split('\t');
    return { path: f[at('path')]!, verdict: f[at('expected_verdict')]!, note: f[at('note')] ?? '', bytes: Number(f[at('bytes')]) };
  });
}
