/**
 * The journal: an append-only JSON-lines record of every step of a run, so a rerun resumes where
 * a crash (kill -9, a CI timeout, a dropped network) left off and an unchanged file is never sent
 * twice. Commit points (a batch about to be submitted, a batch's results) are fsync'd before the
 * run goes on. The manifest is generated from the state folded out of it (journal-state.ts).
 *
 * Records (`t` = type):
 *   v        {n}                                         the format (2) of a journal this build wrote or compacted
 *   file     {source, size, mtimeMs, sha256}             content fingerprint (from a full read)
 *   batch    {batchId, mode, sources[], at}              about to submit these, under this id
 *   res      {batchId?, params?, c, in[], drop?}         final entries of inputs, compact (journal-codec.ts),
 *                                                        with their fingerprints: a batch's results (`batchId`),
 *                                                        or one input final before its batch ended (a file
 *                                                        completed mid-batch); `drop`: kv keys (its handles) gone with it
 *   forget   {sources[]}                                 drop these (pruned, or forced re-upload)
 *   kv       {key, value, batch?}                        provider session state (upload ids, parts);
 *                                                        with `batch`, dropped once that batch's results land
 *   gen      {sources[], n}                              times sources were batched (compacted form)
 *   salt     {value}                                     this state's own salt for derived batch ids, so
 *                                                        another manifest's upload of the same files
 *                                                        never finds (and adopts) this one's batches
 *
 * Format 1 (before `v`) wrote each batch's results as full manifest entries (`entries
 * {batchId, entries[], params?}`, `done {source, entries[], params?, drop?}`, `gen {source, n}`):
 * those are still read, and such a journal is rewritten in the current format when a run opens it.
 *
 * `params` is the provider's fingerprint of its options (claid operations, an aihub batch name…):
 * an input done under other parameters is not done.
 *
 * A lock file (pid, host, start time) keeps two runs off the same state; a lock whose process is
 * gone (same host) is stale and taken over.
 */
import { closeSync, fsync, fsyncSync, openSync, readFileSync, readSync, writeSync } from 'node:fs';
import { mkdir, readFile, rename, rm, writeFile, open } from 'node:fs/promises';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createHash, randomBytes } from 'node:crypto';
import { BatchupError } from './errors.js';
import { type InputResult, encodeResults } from './journal-codec.js';
import { type JournalRecord, JournalState, type ResultGroup } from './journal-state.js';

export { type JournalRecord, JournalState, emptyState, fold } from './journal-state.js';

/** Bytes read from the journal at a time. */
const READ_CHUNK = 4 << 20;

/**
 * Read a journal file record by record without holding its text whole. A torn last line (a crash
 * mid-write) is not a record: it was never committed. Returns the records read and whether the
 * file ends torn.
 */
function readJournal(file: string, onRecord: (r: JournalRecord) => void): { records: number; torn: boolean; bytes: number } {
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { records: 0, torn: false, bytes: 0 };
    throw err;
  }
  let records = 0;
  let bytes = 0;
  let rest: Buffer = Buffer.alloc(0);
  const line = (buf: Buffer, start: number, end: number) => {
    if (end <= start) return;
    const text = buf.toString('utf8', start, end);
    if (!text.trim()) return;
    let r: JournalRecord;
    try {
      r = JSON.parse(text) as JournalRecord;
    } catch {
      return; // torn write
    }
    records++;
    onRecord(r);
  };
  try {
    const chunk = Buffer.allocUnsafe(READ_CHUNK);
    for (;;) {
      const n = readSync(fd, chunk, 0, READ_CHUNK, null);
      if (n === 0) break;
      bytes += n;
      const buf = rest.length ? Buffer.concat([rest, chunk.subarray(0, n)]) : chunk.subarray(0, n);
      let start = 0;
      for (let nl = buf.indexOf(10, start); nl >= 0; nl = buf.indexOf(10, start)) {
        line(buf, start, nl);
        start = nl + 1;
      }
      rest = Buffer.from(buf.subarray(start));
    }
  } finally {
    closeSync(fd);
  }
  const torn = rest.length > 0;
  if (torn) line(rest, 0, rest.length);
  return { records, torn, bytes };
}

/** Parse journal text; a torn last line (a crash mid-write) is ignored, as it was never committed. */
export function parseJournal(text: string): JournalRecord[] {
  const out: JournalRecord[] = [];
  for (const line of text.split('\n')) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as JournalRecord);
    } catch {
      /* torn write */
    }
  }
  return out;
}

export class Journal {
  readonly state: JournalState;
  private fd: number;
  private closed = false;
  /** fsyncs in flight (commit): the file is closed only once they are done. */
  private readonly syncing = new Set<Promise<void>>();

  private constructor(
    readonly dir: string,
    state: JournalState,
    fd: number,
    private readonly lock: StateLock,
  ) {
    this.state = state;
    this.fd = fd;
  }

  /** Read the state without locking or changing anything (dry runs). */
  static async peek(dir: string): Promise<JournalState> {
    const state = new JournalState();
    readJournal(journalFile(dir), (r) => state.fold(r));
    return state;
  }

  /** Read and open the journal for a run, under `lock` (taken here when not given). */
  static async open(dir: string, lock?: StateLock): Promise<Journal> {
    lock ??= await StateLock.take(dir);
    const file = journalFile(dir);
    const state = new JournalState();
    const read = readJournal(file, (r) => state.fold(r));
    // Compact (rewrite the folded state) when the journal has grown well past what it holds, so
    // it does not grow without bound across runs; after a torn last line, which the next append
    // would otherwise glue itself onto; and when it was written in an earlier format.
    if (read.torn || state.legacy || read.records > 2 * snapshotSize(state) + 1000) await writeSnapshot(file, state);
    const fd = openSync(file, 'a');
    const journal = new Journal(dir, state, fd, lock);
    if (read.bytes === 0) journal.append({ t: 'v', n: 2 });
    // Not a commit point of its own: the salt only matters once a batch id derived from it is
    // announced, and that commit forces every earlier line to disk with it. (An fsync of a fresh
    // file here cost ~0.1 s of a 1,000-image run on a busy disk, on the event loop.)
    if (!state.salt) journal.append({ t: 'salt', value: randomBytes(8).toString('hex') });
    return journal;
  }

  /** Append a record; `commit` forces it to disk before returning (a commit point). */
  append(r: JournalRecord, commit = false): void {
    if (this.closed) return;
    writeSync(this.fd, `${JSON.stringify(r)}\n`);
    if (commit) fsyncSync(this.fd);
    this.state.fold(r);
  }

  /**
   * Record inputs' final entries (and the fingerprints of those read whole) in one compact record,
   * a commit point: a batch's results (`batchId`: no longer pending), or inputs final on their own.
   */
  record(inputs: readonly InputResult[], o: { batchId?: string; params?: string; drop?: string[] } = {}): Promise<void> {
    const body = encodeResults(inputs);
    return this.commit({
      t: 'res',
      ...(o.batchId ? { batchId: o.batchId } : {}),
      ...(o.params ? { params: o.params } : {}),
      c: body.c,
      in: body.in,
      ...(o.drop?.length ? { drop: o.drop } : {}),
    });
  }

  /**
   * Append a record and force it to disk, off the event loop: resolves once it is there (a commit
   * point, like `append(r, true)`). Batches that commit at the same time wait for their fsyncs
   * side by side (the file system joins them) instead of one after another on the event loop.
   */
  commit(r: JournalRecord): Promise<void> {
    if (this.closed) return Promise.resolve();
    writeSync(this.fd, `${JSON.stringify(r)}\n`);
    this.state.fold(r);
    const fd = this.fd;
    const synced = new Promise<void>((ok, fail) => fsync(fd, (err) => (err ? fail(err) : ok())));
    this.syncing.add(synced);
    const forget = () => void this.syncing.delete(synced);
    synced.then(forget, forget);
    return synced;
  }

  kvGet<T>(key: string): T | undefined {
    return this.state.kv.get(key) as T | undefined;
  }

  kvPut(key: string, value: unknown, untilBatchDone?: string): void {
    this.append({ t: 'kv', key, value, ...(untilBatchDone ? { batch: untilBatchDone } : {}) }, true);
  }

  /** Flush and close the file; `beforeUnlock` runs once it is on disk, still under the lock (the rerun index). */
  async close(beforeUnlock?: () => Promise<void>): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await Promise.allSettled(this.syncing);
      fsyncSync(this.fd);
      closeSync(this.fd);
      await beforeUnlock?.();
    } finally {
      await this.lock.release();
    }
  }
}

export const journalFile = (dir: string) => join(dir, 'journal.jsonl');

/** A state folder held by this run (see acquireLock). */
export class StateLock {
  private constructor(readonly dir: string) {}

  static async take(dir: string): Promise<StateLock> {
    await mkdir(dir, { recursive: true });
    await acquireLock(dir);
    return new StateLock(dir);
  }

  release(): Promise<void> {
    return rm(join(this.dir, 'lock'), { force: true });
  }
}

/** How many records a snapshot of the state would have (without making it). */
function snapshotSize(state: JournalState): number {
  const groups = new Set<ResultGroup>();
  const gens = new Set<number>();
  let files = 0;
  for (const r of state.inputs.values()) {
    if (r.group) groups.add(r.group);
    else if (r.size >= 0) files++;
    if (r.gen) gens.add(r.gen);
  }
  return 2 + groups.size + files + state.pending.size + gens.size + state.kv.size;
}

async function writeSnapshot(file: string, state: JournalState): Promise<void> {
  const tmp = `${file}.tmp`;
  const fh = await open(tmp, 'w');
  try {
    let buf = '';
    for (const r of state.snapshot()) {
      buf += `${JSON.stringify(r)}\n`;
      if (buf.length >= 1 << 20) {
        await fh.write(buf);
        buf = '';
      }
    }
    if (buf) await fh.write(buf);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await rename(tmp, file);
}

// ---------- lock ----------

interface LockInfo {
  pid: number;
  host: string;
  startedAt: string;
  /** The process's start time as /proc tells it (tells a reused pid apart). */
  procStart?: string;
}

/** A process's state and start time (clock ticks since boot) from /proc, where there is one. */
function procStat(pid: number): { state: string; start: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' '); // the name may hold spaces
    return { state: rest[0]!, start: rest[19]! };
  } catch {
    return undefined;
  }
}

/**
 * Whether the run that wrote a lock is still running. A killed run can linger as a zombie, and
 * its pid can be reused by another process: with /proc, the start time recorded in the lock must
 * match and the process must not be a zombie.
 */
function alive(lock: LockInfo): boolean {
  if (procStat(process.pid)) {
    const p = procStat(lock.pid);
    return !!p && p.state !== 'Z' && (lock.procStart === undefined || p.start === lock.procStart);
  }
  try {
    process.kill(lock.pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function acquireLock(dir: string): Promise<void> {
  const path = join(dir, 'lock');
  const mine: LockInfo = { pid: process.pid, host: hostname(), startedAt: new Date().toISOString(), procStart: procStat(process.pid)?.start };
  for (let tries = 0; tries < 2; tries++) {
    try {
      await writeFile(path, JSON.stringify(mine), { flag: 'wx' });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let other: LockInfo | undefined;
    try {
      other = JSON.parse(await readFile(path, 'utf8')) as LockInfo;
    } catch {
      other = undefined; // torn lock file: treat as stale
    }
    if (other && other.host === mine.host && alive(other) && other.pid !== process.pid) {
      throw new BatchupError(
        'USAGE',
        `another batchup run (pid ${other.pid}, started ${other.startedAt}) is using the state in ${dir}; wait for it or use another --state`,
      );
    }
    if (other && other.host !== mine.host) {
      throw new BatchupError('USAGE', `the state in ${dir} is locked by ${other.host} (pid ${other.pid}); remove ${path} if that run is gone`);
    }
    await rm(path, { force: true }); // stale: its process is gone
  }
  throw new BatchupError('USAGE', `could not lock ${dir}`);
}

/**
 * Default state folder: beside the manifest, one per manifest and per provider+endpoint, so a
 * sandbox run never makes a production run skip files (and two jobs never share state).
 */
export function defaultStateDir(manifestPath: string, provider: string, endpoint: string): string {
  const tag = createHash('sha256').update(`${provider}\0${endpoint}`).digest('hex').slice(0, 10);
  return join(dirname(manifestPath), '.batchup', `${basename(manifestPath)}.${provider}-${tag}`);
}
