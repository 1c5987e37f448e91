/**
 * commander wiring of the batch-management commands (`batchup batches …`, `batchup runs …`).
 * Only option definitions live here; the actions load ./manage.js lazily, so `--help` and other
 * commands stay fast. Today aihub is the one provider with server-side batches to manage;
 * `--provider` is accepted so another can join (see manage.ts `MANAGED`).
 */
import type { Command } from 'commander';
import { Option } from 'commander';
import type { CliContext } from '../main.js';

export interface ManageHooks {
  setExit: (code: number) => void;
  installSignals: () => void;
}

/** Commander argParser of a repeatable option: every value, in order. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The settings every management command takes (same resolution as upload: flag > env > config). */
function common(cmd: Command): Command {
  return cmd
    .option('--provider <name>', 'provider (default: aihub; the configured one when it manages batches)')
    .option('--endpoint <url>', 'API root (env BATCHUP_ENDPOINT when the configured provider is aihub; default https://aihub.instabase.com/api)')
    .option('--token-file <file>', 'read the API token from this file (mode 0600)')
    .option('--ib-context <id>', 'IB-Context header (env BATCHUP_IB_CONTEXT)')
    .option('--max-retries <n>', 'retries per request (default 6)')
    .option('--timeout <seconds>', 'per-request timeout without progress (default 120)')
    .option('--json', 'JSON on stdout (one object per line)')
    .addOption(new Option('-q, --quiet', 'no progress lines or spinner').conflicts('verbose'))
    .option('-v, --verbose', 'also retries');
}

export function addManageCommands(program: Command, ctx: CliContext, hooks: ManageHooks): void {
  const load = () => import('./manage.js');
  const run = (name: string, wait = false) => async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const opts = cmd.opts() as Record<string, unknown>;
    ctx.json = Boolean(opts.json);
    ctx.verbose = Boolean(opts.verbose);
    if (wait) hooks.installSignals();
    const m = await load();
    hooks.setExit(await m.runManage(name, args.slice(0, -2) as string[], opts, ctx));
  };

  const batches = program.command('batches').description('manage server-side batches (aihub): list, show, create, files, rm, job');
  common(batches.command('list').description('list batches (every page, or one page with --limit/--offset)'))
    .option('--workspace <name>', 'only batches in this workspace')
    .option('--username <user>', 'only batches created by this user')
    .option('--limit <n>', 'one page of at most N batches')
    .option('--offset <n>', 'start of the page (with --limit)')
    .action(run('batches.list'));
  common(batches.command('show').description('show one batch').argument('<batch-id>')).action(run('batches.show'));
  common(batches.command('create').description('create an empty batch and print its id').argument('<name>'))
    .option('--workspace <name>', 'workspace to create it in')
    .action(run('batches.create'));
  common(batches.command('files').description("list a batch's files (every page, or one page with --page-size/--start-token)").argument('<batch-id>'))
    .option('--page-size <n>', 'one page of at most N files')
    .option('--start-token <token>', 'continue from this next_page_token')
    .action(run('batches.files'));
  common(batches.command('rm').description('delete a batch, or only some of its files, and wait for the job').argument('<batch-id>'))
    .option('--file <name>', 'delete only this file (repeatable)', collect)
    .option('--no-wait', 'print the job id and do not wait for it')
    .option('--poll-timeout <seconds>', 'give up waiting after this long (default 3600)')
    .action(run('batches.rm', true));
  common(batches.command('job').description('show a delete job; --wait polls it until it ends').argument('<job-id>'))
    .option('--wait', 'poll until COMPLETE / FAILED / CANCELLED')
    .option('--poll-timeout <seconds>', 'give up waiting after this long (default 3600)')
    .action(run('batches.job', true));

  const runs = program.command('runs').description('run apps on batches (aihub): start, show, results');
  common(runs.command('start').description('start an app run on a batch, wait for it and read its results').argument('<app>', 'app name or id (id:<x> / name:<x> force either)'))
    .requiredOption('--batch-id <id>', 'the batch to run on')
    .option('--owner <owner>', 'owner of the app')
    .option('--app-version <version>', 'app version')
    .option('--results <file>', 'write the results (every page) to this JSON file')
    .option('--no-wait', 'print the run id and do not wait for it')
    .option('--poll-timeout <seconds>', 'give up waiting after this long (default 3600)')
    .action(run('runs.start', true));
  common(runs.command('show').description("show a run's status").argument('<run-id>')).action(run('runs.show'));
  common(runs.command('results').description("read a run's results (every page from --file-offset)").argument('<run-id>'))
    .option('--file-offset <n>', 'first file (default 0)')
    .option('--results <file>', 'write them to this JSON file instead of stdout')
    .action(run('runs.results', true));
}
