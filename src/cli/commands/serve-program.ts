/**
 * commander wiring of `batchup serve`. The generic flags are here; each protocol's flags come
 * from its declaration in the sandbox's protocol list (src/sandbox/protocols/index.ts), so a new
 * protocol's settings show up without an edit here. Only declarations load at start-up (no
 * protocol code); the action loads ./serve.js and the sandbox lazily.
 */
import { Option, type Command } from 'commander';
import type { CliContext } from '../context.js';
// Light modules: constants and declarations, no sandbox code.
import { CDN_OPTIONS } from '../../sandbox/kit/cdn.js';
import { FAULT_KINDS } from '../../sandbox/kit/faults.js';
import type { ProtocolDefinition } from '../../sandbox/kit/protocol.js';
import { DEFAULT_PROTOCOLS } from '../../sandbox/protocols/index.js';

export interface ServeHooks {
  setExit: (code: number) => void;
  installSignals: () => void;
}

/** `a, b and c`. */
function listing(names: readonly string[]): string {
  return names.length <= 1 ? names.join('') : `${names.slice(0, -1).join(', ')} and ${names[names.length - 1]}`;
}

/** Where each protocol is served and what it speaks, then a few real command lines. */
export function serveHelpAfter(protocols: readonly ProtocolDefinition[]): string {
  const width = Math.max(...protocols.map((p) => p.name.length));
  const at = (p: ProtocolDefinition) => `<origin>${p.endpointPath}`;
  const atWidth = Math.max(...protocols.map((p) => at(p).length));
  const rows = protocols.map((p) => `  ${p.name.padEnd(width)}  ${at(p).padEnd(atWidth)}  ${p.summary}`);
  return [
    '',
    'Protocols (one port; the endpoint is what a client takes as --endpoint):',
    ...rows,
    '',
    'Stdout line 1 is the origin (nothing else goes to stdout); GET <origin>/_sandbox/stats shows what it stored.',
    '',
    'Examples:',
    '  batchup serve --port 8080 --token dev --data ./sandbox-data',
    '  batchup serve --process-ms 20 --verbose',
    '  batchup serve --fault-rate 0.2 --faults 500,429,reset --seed 7 --retry-after 2',
    '  batchup serve --presign-ttl 5 --part-fault-rate 0.1 --part-faults cut',
    '',
  ].join('\n');
}

/** The `--flag` help line of a protocol setting: its description, the protocol, the default. */
function protocolFlagHelp(p: ProtocolDefinition, spec: { description: string; default: unknown; defaultText?: string }): string {
  return `${spec.description} (${p.name}; default ${spec.defaultText ?? String(spec.default)})`;
}

export function addServeCommand(program: Command, ctx: CliContext, hooks: ServeHooks, protocols: readonly ProtocolDefinition[] = DEFAULT_PROTOCOLS): void {
  const cmd = program
    .command('serve')
    .description(`run the sandbox server (${listing(protocols.map((p) => p.name))} on one port) until Ctrl-C`)
    .option('--port <n>', 'port (0 = any free port)', '0')
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--data <dir>', 'folder for stored uploads')
    .option('--fault-rate <r>', 'fraction of API requests that fail (0..1)')
    .option('--faults <kinds>', `comma list of ${FAULT_KINDS.join(',')}`)
    .option('--seed <n>', 'seed for deterministic faults')
    .option('--retry-after <seconds>', 'Retry-After of injected 429s')
    .option('--slow-ms <ms>', 'delay of a "slow" fault')
    .option('--process-ms <ms>', 'server processing time per image or file (async jobs)')
    .option(CDN_OPTIONS.ttlSec.flag!, `${CDN_OPTIONS.ttlSec.description} (default ${CDN_OPTIONS.ttlSec.defaultText})`);
  for (const p of protocols) {
    for (const spec of Object.values(p.options) as { flag?: string; description: string; default: unknown; defaultText?: string }[]) {
      if (spec.flag) cmd.addOption(new Option(spec.flag, protocolFlagHelp(p, spec)));
    }
  }
  cmd
    .option('--access-key <key>', 'accepted access key (env BATCHUP_ACCESS_KEY)')
    .option('--secret-key <secret>', 'accepted secret key (env BATCHUP_SECRET_KEY)')
    .option('--token <token>', 'accepted bearer token (env BATCHUP_TOKEN)')
    .option('-v, --verbose', 'log requests')
    .addHelpText('after', serveHelpAfter(protocols))
    .action(async (opts: Record<string, unknown>) => {
      ctx.verbose = Boolean(opts.verbose);
      hooks.installSignals();
      const { runServeCommand } = await import('./serve.js');
      hooks.setExit(await runServeCommand(opts, ctx, protocols));
    });
}
