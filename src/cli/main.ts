/**
 * The CLI entry: builds the commander program, loads each command lazily, maps every error to an
 * exit code (src/cli/exit-codes.ts) and returns it — bin/batchup.js sets process.exitCode.
 *
 * The only process.exit in the code base (besides bin/batchup.js's, once the event loop is empty)
 * is the second-Ctrl-C path below: the first SIGINT/SIGTERM aborts the run gracefully (in-flight
 * work stops, the manifest is written), a second one exits at once with the interrupted code.
 */
import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { BatchupError, toBatchupError } from '../core/errors.js';
import { EXIT, EXIT_CODE_HELP, exitCodeForError, hintFor } from './exit-codes.js';
import { addProviderCommands } from './commands/provider-program.js';
import { addRenderCommand } from './commands/render-program.js';
import { addServeCommand } from './commands/serve-program.js';
import { addManifestCommand } from './commands/manifest-program.js';
import { addRequestAndOutputFlags, addRunFlags } from './run-flags.js';
import { collect, examples, optionOf } from './flags.js';
import { redact } from './redact.js';
import type { AnyProvider, FlagSpec, ProviderDeclaration } from '../core/provider.js';
import type { CliContext, CliIO } from './context.js';

export type { CliContext, CliIO };

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

export async function main(argv: string[], io: Partial<CliIO> = {}): Promise<number> {
  const base: CliIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    stdin: io.stdin ?? process.stdin,
    env: io.env ?? process.env,
    cwd: io.cwd ?? process.cwd(),
  };
  const controller = new AbortController();
  const forceExitHooks: (() => void)[] = [];
  const ctx: CliContext = {
    ...base,
    signal: controller.signal,
    announce: (line) => base.stderr.write(`${redact(line)}\n`),
    onForceExit: (fn) => forceExitHooks.push(fn),
    json: false,
    verbose: false,
    errorShown: false,
  };

  let exitCode: number = EXIT.OK;
  let removeSignals: (() => void) | undefined;

  /** First signal: graceful abort. Second: exit now. */
  const installSignals = () => {
    if (removeSignals) return;
    let count = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      count++;
      if (count === 1) {
        controller.abort(new BatchupError('INTERRUPTED', `interrupted by ${sig}`));
        try {
          ctx.announce('interrupting… (press Ctrl-C again to exit now)');
        } catch {
          /* never let the announcement stop the abort */
        }
        return;
      }
      for (const fn of forceExitHooks) {
        try {
          fn();
        } catch {
          /* exiting anyway */
        }
      }
      process.exit(EXIT.INTERRUPTED);
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    removeSignals = () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
    };
  };

  const program = buildProgram(ctx, {
    setExit: (code) => {
      exitCode = code;
    },
    installSignals,
    ...(await providersFor(argv)),
  });

  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // commander has already printed its message (or the help/version text) on stderr; with
      // --json the error is also the one event on stdout, as for every other usage error.
      exitCode = err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
      if (exitCode !== EXIT.OK && argv.includes('--json')) {
        const message = err.message.replace(/^error: /, '');
        ctx.stdout.write(`${redact(JSON.stringify({ type: 'error', code: 'USAGE', message, exitCode }))}\n`);
      }
    } else {
      exitCode = exitCodeForError(err);
      if (!ctx.errorShown) reportError(err, ctx, exitCode);
    }
  } finally {
    removeSignals?.();
  }
  return exitCode;
}

/** Print a whole-run error: human line on stderr, plus an `error` event on stdout with --json. */
export function reportError(err: unknown, ctx: Pick<CliContext, 'stdout' | 'stderr' | 'json' | 'verbose'>, exitCode: number): void {
  const e = toBatchupError(err);
  const label = e.code === 'INTERNAL' ? 'internal error' : 'error';
  if (ctx.json) {
    ctx.stdout.write(`${redact(JSON.stringify({ type: 'error', code: e.code, message: e.message, exitCode }))}\n`);
  }
  let text = `${label}: ${e.message}`;
  const hint = hintFor(e);
  if (hint) text += `\n  ${hint}`;
  if (ctx.verbose || e.code === 'INTERNAL') {
    const stack = (e.cause instanceof Error ? e.cause.stack : undefined) ?? e.stack;
    if (ctx.verbose && stack) text += `\n${stack}`;
    if (e.code === 'INTERNAL' && !ctx.verbose) text += '\n  (run with --verbose for the stack trace)';
  }
  ctx.stderr.write(`${redact(text)}\n`);
}

interface ProgramHooks {
  setExit: (code: number) => void;
  installSignals: () => void;
  /** What every provider declares: its name and upload flags. */
  providers?: readonly ProviderDeclaration[];
  /** The provider modules, for their management commands (`batches`, `runs`, …). */
  modules?: readonly AnyProvider[];
}

/**
 * What a command needs of the providers. Loading their modules (protocols, HTTP client,
 * validation) costs ~50 ms: `serve`, `config`, `manifest` and `--version` need none of it,
 * `upload` and `render` only the declarations; the providers' own commands and the help list
 * need the modules.
 */
export async function providersFor(argv: string[]): Promise<Pick<ProgramHooks, 'providers' | 'modules'>> {
  const args = argv.slice(2);
  const command = args.find((a) => !a.startsWith('-'));
  if (command === 'serve' || command === 'config' || command === 'manifest') return {};
  const help = args.some((a) => a === '-h' || a === '--help');
  if (command === undefined && !help && args.some((a) => a === '-V' || a === '--version')) return {};
  const registry = await import('../providers/registry.js');
  if (command === 'upload' || command === 'render') return { providers: registry.providerDeclarations() };
  const modules = await registry.loadProviders();
  return { providers: modules, modules };
}

/** Every provider's upload flags, merged by flag syntax, each with the providers that take it. */
export function mergedProviderFlags(providers: readonly ProviderDeclaration[]): (FlagSpec & { providers: string[] })[] {
  const byFlags = new Map<string, FlagSpec & { providers: string[] }>();
  for (const p of providers) {
    for (const f of p.flags) {
      const known = byFlags.get(f.flags);
      if (known) known.providers.push(p.name);
      else byFlags.set(f.flags, { ...f, providers: [p.name] });
    }
  }
  return [...byFlags.values()];
}

export function buildProgram(ctx: CliContext, hooks: ProgramHooks): Command {
  const program = new Command();
  program
    .name('batchup')
    .description('Move batches of media to the APIs that consume them: scan, validate, plan, upload, poll, manifest.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({
      writeOut: (s) => void ctx.stdout.write(s),
      writeErr: (s) => void ctx.stderr.write(s),
    })
    .showHelpAfterError('  see `batchup --help`')
    .addHelpText(
      'after',
      `\n${EXIT_CODE_HELP}\n${examples([
        'batchup upload fixtures/images --sandbox',
        'BATCHUP_TOKEN=... batchup upload ./shoot --manifest out/manifest.json',
        'batchup serve --port 8080 --token dev',
        'batchup config set token -',
      ])}`,
    );

  // ------------------------------------------------------------------------------------ upload
  const upload = program.command('upload');
  upload
    .description("upload files, folders, globs, URL lists or a previous manifest's sources")
    .argument('[paths...]', 'files, folders or globs')
    .option('--urls <file>', "file of URLs, one per line, or an earlier batchup manifest (its uploaded URLs); '-' reads stdin")
    .option('--from-manifest <file>', 'take the sources of a previous manifest (repeatable)', collect)
    .option('--include <glob>', 'only files matching (repeatable)', collect)
    .option('--exclude <glob>', 'leave out files matching (repeatable)', collect)
    .option('--ignore-file <file>', 'a .gitignore-style file of patterns to leave out')
    .option('--provider <name>', `provider: ${(hooks.providers ?? []).map((p) => p.name).join(', ') || 'bach'} (env BATCHUP_PROVIDER; default bach)`)
    .option('--endpoint <url>', 'API base URL (env BATCHUP_ENDPOINT; e.g. https://api-gen-na.bach.art/api/vdr)')
    .option('--token-file <file>', 'read the API token from this file (mode 0600)')
    .option('--manifest <path>', 'where to write the manifest (env BATCHUP_MANIFEST; default batchup-manifest.json)')
    .option('--sandbox', 'run against an in-process sandbox server (offline demo)')
    .option('--dry-run', 'scan, validate and plan only; send nothing')
    .option('--download <dir>', 'save every output into DIR once done (name from the input, extension from the output)')
    .addOption(new Option('--mode <mode>', 'upload mode (env BATCHUP_MODE; default auto)').choices(['auto', 'sync', 'async']))
    .option('--concurrency <n>', 'batches in flight at once (env BATCHUP_CONCURRENCY; default 4)')
    .option('--batch-id <id>', 'batch id (one batch) or prefix (several)')
    .option('--name-template <template>', 'remote name: {name} {stem} {ext} {parent} {index} (default: the file name)')
    .option('--state <dir>', 'journal folder for resume and incremental runs (default: .batchup/ beside the manifest)')
    .option('--force', 'upload everything again, even inputs the journal knows as done')
    .option('--refresh-before <duration>', 're-upload inputs whose URLs expire within this long (default 3d)')
    .option('--prune', 'drop inputs that are gone from the manifest and journal')
    .option('--max-duration <duration>', 'stop gracefully after this long, like Ctrl-C (e.g. 50m, for cron)')
    .option('--batch-size <n>', 'at most N files per batch (default: the provider limit, 300 for bach)')
    .option('--max-memory <size>', 'memory for file parts in flight, e.g. 64MiB, 1G (chunked uploads; default 64MiB)');
  addRequestAndOutputFlags(upload, 'per-file successes');
  addRunFlags(upload).addHelpText(
    'after',
    examples([
      'batchup upload fixtures/images --sandbox',
      "batchup upload 'photos/**/*.jpg' --dry-run",
      'batchup upload ./videos --provider hybrid --endpoint https://api.example.com --manifest videos.json',
      'batchup upload --urls last-run.json --provider claid --operations \'{"resizing":{"width":500}}\'',
    ]),
  );
  for (const f of mergedProviderFlags(hooks.providers ?? [])) {
    try {
      upload.addOption(optionOf({ ...f, env: undefined, required: false }, ` (${f.providers.join(', ')}${f.env ? `; env ${f.env}` : ''})`));
    } catch {
      // Clashes with a built-in flag: the built-in wins.
    }
  }
  upload.action(async (paths: string[], opts: Record<string, unknown>) => {
    ctx.json = Boolean(opts.json);
    ctx.verbose = Boolean(opts.verbose);
    hooks.installSignals();
    const { runUploadCommand } = await import('./commands/upload.js');
    hooks.setExit(await runUploadCommand(paths, opts, ctx));
  });

  addRenderCommand(program, ctx, hooks);

  // ------------------------------------------------------------------------------------- serve
  addServeCommand(program, ctx, hooks);
  addManifestCommand(program, ctx, hooks);

  // ----------------------------------------------- the providers' own commands (batches, runs, …)
  addProviderCommands(program, hooks.modules ?? [], ctx, hooks);

  // ------------------------------------------------------------------------------------ config
  const config = program
    .command('config')
    .description('read and write settings (file mode 0600; env BATCHUP_CONFIG_DIR moves it)')
    .addHelpText('after', examples(['batchup config set token -', 'batchup config list', 'batchup config get endpoint']));
  const load = () => import('./commands/config.js');
  config
    .command('set')
    .description("set a key ('-' as the value reads it from stdin, keeping secrets out of shell history)")
    .argument('<key>', 'endpoint, provider, token, access-key, secret-key, concurrency, mode, manifest')
    .argument('<value>', "the value, or '-' for stdin")
    .addHelpText(
      'after',
      examples([
        'batchup config set endpoint https://api-gen-na.bach.art/api/vdr',
        'batchup config set token -   # reads it from stdin',
        'batchup config set provider hybrid',
      ]),
    )
    .action(async (key: string, value: string) => hooks.setExit(await (await load()).configSet(key, value, ctx)));
  config
    .command('get')
    .description('print a key (secrets masked)')
    .argument('<key>')
    .addHelpText('after', `${examples(['batchup config get endpoint', 'batchup config get token   # ******** (32 chars)'])}\nExit 1 when the key is not set.\n`)
    .action(async (key: string) => hooks.setExit(await (await load()).configGet(key, ctx)));
  config
    .command('list')
    .description('print every key that is set (secrets masked), and which env vars override them')
    .addHelpText('after', examples(['batchup config list', 'BATCHUP_CONFIG_DIR=/etc/batchup batchup config list']))
    .action(async () => hooks.setExit(await (await load()).configList(ctx)));
  config
    .command('unset')
    .description('remove a key')
    .argument('<key>')
    .addHelpText('after', examples(['batchup config unset token', 'batchup config unset endpoint']))
    .action(async (key: string) => hooks.setExit(await (await load()).configUnset(key, ctx)));
  config
    .command('path')
    .description('print the config file path (nothing is created)')
    .addHelpText('after', examples(['batchup config path', 'chmod 600 "$(batchup config path)"']))
    .action(async () => hooks.setExit(await (await load()).configPath(ctx)));

  return program;
}
