/** What every command receives from the entry point (src/cli/main.ts). */
import type { OutStream } from './render/types.js';

export interface CliIO {
  stdout: OutStream & NodeJS.WritableStream;
  stderr: OutStream & NodeJS.WritableStream;
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
  cwd: string;
}

/** What every command receives. */
export interface CliContext extends CliIO {
  /** Aborted by the first SIGINT/SIGTERM (only for commands that install signal handling). */
  signal: AbortSignal;
  /** How the first signal is announced; a command with bars on screen replaces it. */
  announce: (line: string) => void;
  /** Run before the forced exit of a second signal (stop bars, restore the cursor). Sync only. */
  onForceExit: (fn: () => void) => void;
  /** Set by a command once it knows --json is on: errors then also go to stdout as an event. */
  json: boolean;
  verbose: boolean;
  /** Set once a command has already shown the error (e.g. through its renderer). */
  errorShown: boolean;
}
