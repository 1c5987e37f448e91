/**
 * GitHub Actions output (GITHUB_ACTIONS=true): each rejected or failed input becomes an
 * `::error file=…::` workflow command, and a Markdown summary of the run is appended to
 * $GITHUB_STEP_SUMMARY. Other CI systems (GitLab, Jenkins, …) read the plain lines.
 *
 * Workflow commands go to stderr: the runner reads commands from both streams, and stdout stays
 * what it is (nothing, or --json's NDJSON). Every line passes the redactor. Files a stopped run
 * never got to (the credentials refused, the API unreachable) are one annotation for the cause,
 * not one per file; files a Ctrl-C or --max-duration stopped are a warning in the summary.
 */
import { appendFileSync, existsSync } from 'node:fs';
import { isAbsolute, relative, sep } from 'node:path';
import type { BatchupEvent, RunSummary } from '../core/events.js';
import { formatBytes, formatDuration } from '../core/text.js';
import { inputOf } from '../core/zip-source.js';
import { redact } from './redact.js';
import type { OutStream } from './render/types.js';

/** Rows of the summary's failure table (the manifest has them all; GitHub caps a summary at 1 MiB). */
export const SUMMARY_ROWS = 100;

export const isGithubActions = (env: NodeJS.ProcessEnv) => env.GITHUB_ACTIONS === 'true';

/** Escaping of a workflow command's message (GitHub's toolkit: `%`, CR, LF). */
export const escapeData = (s: string) => s.replace(/%/g, '%25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
/** … and of a property value (also `:` and `,`, which separate properties). */
export const escapeProperty = (s: string) => escapeData(s).replace(/:/g, '%3A').replace(/,/g, '%2C');

export function workflowCommand(kind: 'error' | 'warning' | 'notice', message: string, props: Record<string, string | undefined> = {}): string {
  const list = Object.entries(props)
    .filter(([, v]) => v !== undefined && v !== '')
    .map(([k, v]) => `${k}=${escapeProperty(v!)}`)
    .join(',');
  return `::${kind}${list ? ` ${list}` : ''}::${escapeData(message)}`;
}

interface Failure {
  source: string;
  outcome: string;
  why: string;
}

export interface GithubContext {
  env: NodeJS.ProcessEnv;
  cwd: string;
  stderr: OutStream;
  /** `3/8` under --shard. */
  shard?: string;
}

export class GithubOutput {
  readonly #seen = new Set<string>();
  readonly #failures: Failure[] = [];
  #failureCount = 0;
  #stopped?: string;
  #error?: string;
  #summary?: RunSummary;
  #manifest?: string;
  #provider?: string;
  #written = false;

  constructor(private readonly c: GithubContext) {}

  /** A local file as GitHub links it: relative to the workspace when inside it. */
  fileOf(source: string): string | undefined {
    let path = inputOf(source);
    if (!isAbsolute(path)) return undefined;
    // A blurb render batch is `<spec>#<ref>`: the spec is the file.
    const spec = path.replace(/#[^/]*$/, '');
    if (spec !== path && !existsSync(path) && existsSync(spec)) path = spec;
    const ws = this.c.env.GITHUB_WORKSPACE || this.c.cwd;
    const rel = relative(ws, path);
    return (rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel : path).split(sep).join('/');
  }

  #annotate(kind: 'error' | 'warning', message: string, props: Record<string, string | undefined>): void {
    this.c.stderr.write(`${redact(workflowCommand(kind, message, props))}\n`);
  }

  #fail(source: string, outcome: string, why: string): void {
    const key = `${outcome}\0${source}`;
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    this.#failureCount++;
    if (this.#failures.length < SUMMARY_ROWS) this.#failures.push({ source, outcome, why });
    this.#annotate('error', why, { file: this.fileOf(source), title: `batchup: ${outcome}` });
  }

  event(e: BatchupEvent): void {
    switch (e.type) {
      case 'reject':
        this.#fail(e.rejection.source, `rejected (${e.rejection.rule})`, e.rejection.message);
        break;
      case 'result': {
        const en = e.entry;
        if (en.status === 'rejected') this.#fail(en.source, `rejected (${en.rule ?? 'rejected'})`, en.error ?? 'rejected');
        else if (en.status === 'failed' && en.code !== 'INTERRUPTED' && !this.#stopped) {
          this.#fail(en.source, `failed (${en.code ?? 'error'})`, en.error ?? 'failed');
        }
        break;
      }
      case 'stopped':
        this.#stopped = e.error;
        break;
      case 'plan':
        this.#provider = e.provider;
        break;
      case 'manifest':
        this.#manifest = e.path;
        break;
      case 'summary':
        this.#summary = e.summary;
        break;
    }
  }

  /** A whole-run error (also what stopped the run): one annotation, without a file. */
  error(message: string): void {
    if (this.#error === message) return;
    this.#error = message;
    this.#annotate('error', message, { title: 'batchup' });
  }

  /** Once, at the end: the interrupted warning and the step summary. */
  end(exitCode: number): void {
    if (this.#written) return;
    this.#written = true;
    if (this.#summary?.interrupted) {
      this.#annotate('warning', 'the run was interrupted: the next run resumes what did not finish', { title: 'batchup' });
    }
    const path = this.c.env.GITHUB_STEP_SUMMARY;
    if (!path) return;
    try {
      appendFileSync(path, redact(this.markdown(exitCode)));
    } catch (err) {
      this.c.stderr.write(`${redact(`warning: cannot append to GITHUB_STEP_SUMMARY (${path}): ${(err as Error).message}`)}\n`);
    }
  }

  markdown(exitCode: number): string {
    const s = this.#summary;
    const what = [this.#provider, this.c.shard && `shard ${this.c.shard}`].filter(Boolean).join(', ');
    const out = [`### batchup${what ? ` (${what})` : ''}: ${verdict(s, exitCode)}`, ''];
    if (s) {
      out.push('| uploaded | skipped | rejected | failed | bytes sent | duration |', '|---:|---:|---:|---:|---:|---:|');
      out.push(`| ${s.uploaded} | ${s.skipped} | ${s.rejected} | ${s.failed} | ${formatBytes(s.bytes)} | ${formatDuration(s.durationMs)} |`, '');
    }
    const facts = [`exit code ${exitCode}`];
    if (this.#manifest) facts.push(`manifest \`${this.fileOf(this.#manifest) ?? this.#manifest}\``);
    out.push(`${facts.join(' · ')}`, '');
    const cause = this.#error ?? this.#stopped;
    if (cause) out.push(`**Error:** ${cell(cause)}`, '');
    if (this.#failureCount) {
      out.push(`#### Rejected or failed (${this.#failureCount})`, '', '| input | outcome | why |', '|---|---|---|');
      for (const f of this.#failures) out.push(`| ${cell(this.fileOf(f.source) ?? f.source)} | ${cell(f.outcome)} | ${cell(f.why)} |`);
      if (this.#failureCount > this.#failures.length) out.push('', `… and ${this.#failureCount - this.#failures.length} more: the manifest lists every one.`);
      out.push('');
    }
    return `${out.join('\n')}\n`;
  }
}

function verdict(s: RunSummary | undefined, exitCode: number): string {
  if (!s) return `stopped (exit ${exitCode})`;
  if (s.interrupted) return 'interrupted';
  if (s.dryRun) return 'dry run';
  if (!s.rejected && !s.failed) return s.uploaded ? 'all done' : 'nothing to do';
  return `${s.rejected + s.failed} of ${s.uploaded + s.skipped + s.rejected + s.failed} not done`;
}

/** A Markdown table cell: one line, pipes escaped, HTML kept literal. */
const cell = (s: string) => s.replace(/\s+/g, ' ').replace(/\|/g, '\\|').replace(/</g, '&lt;').trim();
