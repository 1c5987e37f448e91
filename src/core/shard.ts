/**
 * --shard K/N: N jobs (a CI matrix, GitLab `parallel`, a Kubernetes Indexed Job) split one set of
 * inputs with no coordinator. Each input belongs to exactly one shard, chosen by a stable hash of
 * its identity, so every job computes the same split from the same checkout:
 * - a file: its path relative to the current directory when it is inside it (so checkouts at
 *   different absolute paths agree), else its absolute path; `/`-separated;
 * - a URL or a storage URI: as given.
 * The split is applied once, right after scan: a shard never reads, validates or journals the
 * others' inputs.
 */
import { createHash } from 'node:crypto';
import { isAbsolute, relative, sep } from 'node:path';
import { usageError } from './errors.js';
import type { Candidate, Rejection } from './types.js';

export interface Shard {
  /** 1-based, as GitLab's CI_NODE_INDEX. */
  index: number;
  total: number;
}

export const MAX_SHARDS = 10_000;

/**
 * `K/N`, or `N` alone inside a Kubernetes Indexed Job (JOB_COMPLETION_INDEX, 0-based, gives K).
 * `what` names where the text came from (the flag or BATCHUP_SHARD).
 */
export function parseShard(text: string, env: NodeJS.ProcessEnv, what = '--shard'): Shard {
  const s = text.trim();
  const pair = /^(\d+)\s*\/\s*(\d+)$/.exec(s);
  const alone = /^\d+$/.test(s);
  if (!pair && !alone) throw usageError(`${what} takes K/N (shard K of N, 1-based), or N inside a Kubernetes Indexed Job; got "${text}"`);
  const total = Number(pair ? pair[2] : s);
  if (!Number.isSafeInteger(total) || total < 1 || total > MAX_SHARDS) throw usageError(`${what}: N must be from 1 to ${MAX_SHARDS}, got "${text}"`);
  let index: number;
  if (pair) index = Number(pair[1]);
  else {
    const job = env.JOB_COMPLETION_INDEX;
    if (job === undefined || !/^\d+$/.test(job.trim())) {
      throw usageError(`${what} ${s}: give K/N, or run it where JOB_COMPLETION_INDEX is set (a Kubernetes Indexed Job), which gives K`);
    }
    index = Number(job.trim()) + 1;
    if (index > total) throw usageError(`${what} ${s}: JOB_COMPLETION_INDEX is ${job.trim()}, beyond ${total} shards (it counts from 0)`);
  }
  if (index < 1 || index > total) throw usageError(`${what}: K must be from 1 to ${total} (shards count from 1), got "${text}"`);
  return { index, total };
}

/** `3/8`. */
export const shardLabel = (s: Shard) => `${s.index}/${s.total}`;

/** What identifies an input across machines (see the top of this file). */
export function shardIdentity(source: string, kind: Candidate['kind'] | 'file', cwd: string): string {
  if (kind !== 'file' || !isAbsolute(source)) return source;
  const rel = relative(cwd, source);
  const inside = rel !== '' && !rel.startsWith('..') && !isAbsolute(rel);
  return (inside ? rel : source).split(sep).join('/');
}

/** The shard (1-based) an identity belongs to: the first 48 bits of its sha256, modulo N. */
export function shardOf(identity: string, total: number): number {
  return (createHash('sha256').update(identity).digest().readUIntBE(0, 6) % total) + 1;
}

/** A list of inputs (scan.ts's CandidateList) that keeps those `keep` says yes to. */
interface Filterable<L> {
  filter(keep: (source: string, kind: Candidate['kind']) => boolean): L;
}
type Scanned<L> = { candidates: L; rejections: Rejection[] };

/** Keep only this shard's inputs, each with its scan order (and rejections: a path that does not exist is one shard's to report). */
export function applyShard<L extends Filterable<L>>(scanned: Scanned<L>, shard: Shard | undefined, cwd: string): Scanned<L> {
  if (!shard || shard.total === 1) return scanned;
  const mine = (source: string, kind: Candidate['kind']) => shardOf(shardIdentity(source, kind, cwd), shard.total) === shard.index;
  return {
    candidates: scanned.candidates.filter(mine),
    rejections: scanned.rejections.filter((r) => mine(r.source, /^[a-z][a-z0-9+.-]*:\/\//i.test(r.source) ? 'url' : 'file')),
  };
}
