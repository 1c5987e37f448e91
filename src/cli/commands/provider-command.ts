/**
 * Running a provider's management command (`batchup batches …`, `batchup runs …`; declared by the
 * provider module as a CommandGroup): resolve which provider, endpoint and credentials it talks
 * to, the values of its flags (flag > env), then render what it reports.
 *
 * Settings resolve like upload's (flag > env > config): the token from BATCHUP_TOKEN / config /
 * --token-file; the endpoint from --endpoint, else BATCHUP_ENDPOINT / config when the configured
 * provider is the one that owns the command (an endpoint configured for bach is not aihub's),
 * else that provider's default. Errors map through the one exit-code table.
 *
 * Output: data on stdout — aligned columns for people, one JSON object per line with --json;
 * progress on stderr — an ora spinner on a TTY, otherwise a plain line per state change (nothing
 * with --json or --quiet).
 */
import ora, { type Ora } from 'ora';
import type { Credentials } from '../../core/http.js';
import { Http } from '../../core/http.js';
import { usageError } from '../../core/errors.js';
import { DEFAULTS } from '../../core/options.js';
import { durationFlag, parseIntInRange } from '../../core/parse.js';
import type { AnyProvider, CommandOutput, CommandSpec, FlagSpec } from '../../core/provider.js';
import type { RetryInfo } from '../../core/retry.js';
import { formatDuration } from '../../core/text.js';
import { missingEndpointError, resolveSettings, validateValue } from '../config.js';
import { EXIT } from '../exit-codes.js';
import type { CliContext } from '../context.js';
import { addSecret, redact } from '../redact.js';
import { pickRendererKind } from '../render/index.js';
import { flagValues } from '../flags.js';

/** The connection and output flags every management command takes. */
export interface CommonFlags {
  provider?: string;
  endpoint?: string;
  tokenFile?: string;
  maxRetries?: string;
  timeout?: string;
  json?: boolean;
  quiet?: boolean;
  verbose?: boolean;
  [flag: string]: unknown;
}

/** Which of the providers that own a command it talks to, at which endpoint, with which credentials. */
export async function connectionSettings(
  owners: readonly AnyProvider[],
  f: CommonFlags,
  env: NodeJS.ProcessEnv,
): Promise<{ provider: AnyProvider; endpoint: string; credentials: Credentials; secrets: (string | undefined)[] }> {
  if (f.provider !== undefined) validateValue('provider', f.provider, '--provider', 'usage');
  if (f.endpoint !== undefined) validateValue('endpoint', f.endpoint, '--endpoint', 'usage');
  const s = await resolveSettings({ provider: f.provider, endpoint: f.endpoint, tokenFile: f.tokenFile }, { env });
  const names = owners.map((p) => p.name);
  if (s.sources.provider === 'flag' && !names.includes(s.provider)) {
    throw usageError(`this command is available for ${names.join(', ')}, not ${s.provider}`);
  }
  const provider = owners.find((p) => p.name === s.provider) ?? owners[0]!;
  // An endpoint from env/config belongs to the configured provider; use it only when that is this one.
  const own = s.sources.endpoint === 'flag' || s.provider === provider.name;
  const endpoint = (own ? s.endpoint : undefined) ?? (provider.defaultEndpoint || undefined);
  if (!endpoint) throw missingEndpointError(provider.name);
  return { provider, endpoint, credentials: provider.credentials(s.auth, endpoint, Date.now), secrets: [s.auth.token, s.auth.secretKey] };
}

export async function runProviderCommand(
  owners: readonly AnyProvider[],
  spec: CommandSpec,
  groupOptions: readonly FlagSpec[],
  args: string[],
  f: CommonFlags,
  ctx: CliContext,
): Promise<number> {
  const maxRetries = f.maxRetries === undefined ? DEFAULTS.maxRetries : parseIntInRange(f.maxRetries, 0, 100, '--max-retries');
  const timeoutMs = f.timeout === undefined ? DEFAULTS.timeoutMs : durationFlag(f.timeout, '--timeout');
  const conn = await connectionSettings(owners, f, ctx.env);
  for (const s of conn.secrets) addSecret(s);
  const http = new Http({ timeoutMs, connections: 4, credentials: conn.credentials });
  const out = new Output(ctx, f);
  try {
    await spec.run(
      {
        http,
        endpoint: conn.endpoint,
        retry: { maxRetries },
        signal: ctx.signal,
        cwd: ctx.cwd,
        env: ctx.env,
        out,
        poll: { initialMs: DEFAULTS.pollIntervalMs, maxMs: DEFAULTS.pollMaxIntervalMs, timeoutMs: DEFAULTS.pollTimeoutMs },
      },
      args,
      flagValues([...groupOptions, ...(spec.options ?? [])], f, ctx.env),
    );
    return EXIT.OK;
  } finally {
    out.stop();
    await http.close().catch(() => undefined);
  }
}

/** Data on stdout; progress on stderr (spinner on a TTY, lines otherwise, none with --json/--quiet). */
class Output implements CommandOutput {
  private spinner?: Ora;
  private lastLine = '';
  private readonly mode: 'json' | 'tty' | 'plain' | 'quiet';

  constructor(
    private readonly ctx: CliContext,
    private readonly f: CommonFlags,
  ) {
    this.mode = f.json ? 'json' : f.quiet ? 'quiet' : pickRendererKind({}, ctx.stderr, ctx.env) === 'tty' ? 'tty' : 'plain';
  }

  data(json: Record<string, unknown>, human: () => string[]): void {
    if (this.mode === 'json') {
      this.ctx.stdout.write(`${redact(JSON.stringify(json))}\n`);
      return;
    }
    this.stop();
    for (const line of human()) this.ctx.stdout.write(`${redact(line)}\n`);
  }

  progress(text: string): void {
    if (this.mode === 'json' || this.mode === 'quiet') return;
    if (this.mode === 'plain') {
      if (text !== this.lastLine) this.ctx.stderr.write(`${redact(text)}\n`);
      this.lastLine = text;
      return;
    }
    if (!this.spinner) this.startSpinner(text);
    else this.spinner.text = redact(text);
  }

  progressDone(text: string, ok: boolean): void {
    if (this.mode === 'json' || this.mode === 'quiet') return;
    if (this.mode === 'plain') return this.progress(text);
    if (!this.spinner) this.startSpinner(text);
    const s = this.spinner!;
    this.spinner = undefined;
    if (ok) s.succeed(redact(text));
    else s.fail(redact(text));
  }

  retryNote = (info: RetryInfo): void => {
    if (!this.f.verbose || this.mode === 'json') return;
    this.stop();
    this.ctx.stderr.write(`${redact(`retry ${info.attempt} in ${formatDuration(info.delayMs)}: ${info.error.message} (${info.error.code})`)}\n`);
  };

  private startSpinner(text: string): void {
    this.spinner = ora({ text: redact(text), stream: this.ctx.stderr as NodeJS.WritableStream, discardStdin: false }).start();
  }

  stop(): void {
    this.spinner?.stop();
    this.spinner = undefined;
  }
}
