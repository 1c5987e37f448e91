/** `batchup serve`: flags from the protocol declarations, help, banner. */
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { faultsLine, serveOptions } from '../../src/cli/commands/serve.js';
import { main, type CliIO } from '../../src/cli/main.js';
import { DEFAULT_PROTOCOLS } from '../../src/sandbox/protocols/index.js';

async function help(args: string[]): Promise<string> {
  let out = '';
  const sink = { write: (s: string | Uint8Array) => ((out += String(s)), true), isTTY: false };
  const io = { stdout: sink, stderr: sink, stdin: Readable.from([]), env: {}, cwd: '/' } as unknown as CliIO;
  expect(await main(['node', 'batchup', ...args], io)).toBe(0);
  return out;
}

describe('serve flags', () => {
  it('--presign-ttl, --part-fault-rate and --part-faults reach the hybrid options', () => {
    const { options, seedChosen } = serveOptions({ presignTtl: '2.5', partFaultRate: '0.15', partFaults: 'cut,reset' }, {}, '/');
    expect(options.protocolOptions).toEqual({ hybrid: { presignTtlSec: 2.5, partFaultRate: 0.15, partFaultKinds: ['cut', 'reset'] } });
    expect(seedChosen).toBe(true);
    expect(options.faults?.seed).toEqual(expect.any(Number));
    expect(() => serveOptions({ partFaults: 'melt' }, {}, '/')).toThrow(/unknown kind 'melt'/);
    expect(() => serveOptions({ presignTtl: '0' }, {}, '/')).toThrow(/--presign-ttl/);
  });

  it('--part-faults without a rate means 10 %; the API flags stay generic', () => {
    const { options } = serveOptions({ partFaults: 'reset', faults: '429', seed: '5', retryAfter: '2', processMs: '3' }, {}, '/');
    expect(options.protocolOptions).toEqual({ hybrid: { partFaultKinds: ['reset'], partFaultRate: 0.1 } });
    expect(options.faults).toEqual({ kinds: ['429'], rate: 0.1, seed: 5, retryAfterSec: 2 });
    expect(options.processMsPerImage).toBe(3);
  });

  it('aihub settings have flags of their own', () => {
    const { options, seedChosen } = serveOptions({ aihubPartSize: '65536', aihubJobStepMs: '0' }, {}, '/');
    expect(options.protocolOptions).toEqual({ aihub: { partSize: 65536, jobStepMs: 0 } });
    expect(seedChosen).toBe(false);
    expect(() => serveOptions({ aihubPartSize: '0' }, {}, '/')).toThrow(/--aihub-part-size must be a whole number from 1/);
  });

  it('--faults lists the API kinds; an unknown one is a usage error', () => {
    expect(() => serveOptions({ faults: 'melt' }, {}, '/')).toThrow("--faults: unknown kind 'melt' (choose from 500,503,429,reset,slow,lost)");
  });

  it('the faults line of the banner names API and part faults and the seed to replay', () => {
    const { options, seedChosen } = serveOptions({ faultRate: '0.2', partFaultRate: '0.3' }, {}, '/');
    const line = faultsLine(options, seedChosen, DEFAULT_PROTOCOLS);
    expect(line).toBe(
      `faults: rate 0.2, kinds 500,503,429,reset,slow,lost, part rate 0.3, part kinds cut, seed ${options.faults!.seed} (random; replay with --seed ${options.faults!.seed})`,
    );
    expect(faultsLine(serveOptions({}, {}, '/').options, false, DEFAULT_PROTOCOLS)).toBeUndefined();
  });
});

describe('serve help', () => {
  it('names the protocols actually served, with their endpoints, and ends with examples', async () => {
    const top = await help(['--help']);
    const names = DEFAULT_PROTOCOLS.map((p) => p.name);
    const listed = `${names.slice(0, -1).join(',\\s+')}\\s+and\\s+${names[names.length - 1]}`;
    expect(top).toMatch(new RegExp(`serve \\[options\\]\\s+run the sandbox server \\(${listed}\\s+on\\s+one\\s+port\\)`));
    expect(top).not.toContain('five');
    const h = await help(['serve', '--help']);
    expect(h).toContain('--faults <kinds>               comma list of 500,503,429,reset,slow,lost\n');
    for (const p of DEFAULT_PROTOCOLS) expect(h).toMatch(new RegExp(`\\n  ${p.name}\\s+<origin>${p.endpointPath}\\s`));
    expect(h).toContain('--presign-ttl <seconds>');
    expect(h).toMatch(/\(hybrid;\s+default\s+3600\)/);
    const examples = h.slice(h.indexOf('Examples:')).trim().split('\n').slice(1);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    expect(examples.length).toBeLessThanOrEqual(4);
    const options = h.slice(0, h.indexOf('Protocols'));
    for (const line of examples) {
      expect(line.trim()).toMatch(/^batchup serve /);
      for (const flag of line.match(/--[a-z-]+/g) ?? []) expect(options, `${flag} of: ${line}`).toMatch(new RegExp(`${flag}[ ,]`));
    }
  });
});
