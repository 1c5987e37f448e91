/**
 * Where a run's output goes besides the chosen renderer: the --log-file (the plain renderer's
 * lines, whatever the terminal shows — --quiet keeps a cron mail empty, not the log) and, under
 * GitHub Actions, annotations and the step summary. One renderer to the upload command: every
 * call reaches each output, and a failing extra output never breaks the run.
 */
import { usageError } from '../core/errors.js';
import type { BatchupEvent, RunSummary } from '../core/events.js';
import { GithubOutput, type GithubContext, isGithubActions } from './ci.js';
import { RotatingLog } from './log-file.js';
import { PlainRenderer } from './render/plain.js';
import type { Renderer } from './render/types.js';
import type { LogFileOptions } from './run-flags.js';

export interface RunOutputsOptions {
  log?: LogFileOptions;
  verbose?: boolean;
  github: GithubContext;
  /** The first line of a run in the log. */
  banner: string;
}

export class RunOutputs implements Renderer {
  readonly kind: Renderer['kind'];
  readonly #log?: { file: RotatingLog; plain: PlainRenderer };
  readonly #github?: GithubOutput;
  #summary?: RunSummary;
  #logFinished = false;
  #ended = false;

  constructor(
    readonly main: Renderer,
    o: RunOutputsOptions,
  ) {
    this.kind = main.kind;
    if (o.log) {
      let file: RotatingLog;
      try {
        file = new RotatingLog(o.log);
      } catch (err) {
        throw usageError(`cannot open --log-file ${o.log.path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const plain = new PlainRenderer({ stdout: file, stderr: file }, { quiet: false, verbose: !!o.verbose, progress: true, color: false });
      this.#log = { file, plain };
      file.write(`${o.banner}\n`);
    }
    if (isGithubActions(o.github.env)) this.#github = new GithubOutput(o.github);
  }

  #each(fn: (r: Pick<Renderer, keyof Renderer>) => void): void {
    fn(this.main);
    if (this.#log) guard(() => fn(this.#log!.plain));
  }

  start(): void {
    this.#each((r) => r.start());
  }

  event(e: BatchupEvent): void {
    if (e.type === 'summary') this.#summary = e.summary;
    this.#each((r) => r.event(e));
    if (this.#github) guard(() => this.#github!.event(e));
  }

  info(message: string): void {
    this.#each((r) => r.info(message));
  }

  notice(message: string): void {
    this.#each((r) => r.notice(message));
  }

  warn(message: string): void {
    this.#each((r) => r.warn(message));
  }

  error(err: { code: string; message: string; hint?: string }, exitCode: number): void {
    if (this.#log && !this.#logFinished && this.#summary) this.finishLog(this.#summary);
    this.#each((r) => r.error(err, exitCode));
    if (this.#github) guard(() => this.#github!.error(err.message));
  }

  finish(summary: RunSummary): void {
    this.main.finish(summary);
    this.finishLog(summary);
  }

  private finishLog(summary: RunSummary): void {
    if (!this.#log || this.#logFinished) return;
    this.#logFinished = true;
    guard(() => this.#log!.plain.finish(summary));
  }

  close(): void {
    this.#each((r) => r.close());
  }

  /** Once the exit code is known: the log's summary if it has none yet, the step summary, files closed. */
  end(exitCode: number): void {
    if (this.#ended) return;
    this.#ended = true;
    if (this.#summary) this.finishLog(this.#summary);
    if (this.#github) guard(() => this.#github!.end(exitCode));
    if (this.#log) {
      guard(() => this.#log!.file.write(`exit ${exitCode}\n`));
      guard(() => this.#log!.file.close());
    }
  }
}

function guard(fn: () => void): void {
  try {
    fn();
  } catch {
    // An extra output (a full disk under the log, a bad summary path) never stops an upload.
  }
}
