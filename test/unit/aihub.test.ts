/** aihub pure logic: the contract's rules, planning, settings, and document validation (PDF, DOCX). */
import { afterAll, describe, expect, it } from 'vitest';
import { appRef, expectedPartSize, expectedParts, jobIdOf, nameProblem, PATHS, segment } from '../../src/providers/aihub/contract.js';
import { aihub } from '../../src/providers/aihub/index.js';
import { aihubOptions, screenItems } from '../../src/providers/aihub/options.js';
import { planAihub } from '../../src/providers/aihub/plan.js';
import { aihubPolicy } from '../../src/providers/aihub/policy.js';
import { connectionSettings } from '../../src/cli/commands/provider-command.js';
import { table } from '../../src/core/text.js';
import { makeDocx, makePdf } from '../../src/devtools/documents.js';
import { makePng, makeZip } from '../../src/devtools/generate.js';
import { bachPolicy } from '../../src/providers/bach/policy.js';
import { fixture, messageOf, ruleOf, tempDir, validatePath } from './validate-helpers.js';
import type { Item } from '../../src/core/types.js';

describe('names and paths', () => {
  it('a file name is one %-encoded path segment', () => {
    expect(PATHS.file(12, 'a b/c?#%.pdf')).toBe('/v2/batches/12/files/a%20b%2Fc%3F%23%25.pdf');
    expect(PATHS.file(1, 'été (1).png')).toBe('/v2/batches/1/files/%C3%A9t%C3%A9%20(1).png');
    expect(segment('..')).toBe('..'); // which is why '..' is refused as a name
  });

  it('nameProblem: ≤ 255 characters, an extension, no separators, control characters or dot names', () => {
    expect(nameProblem('report.pdf')).toBeUndefined();
    expect(nameProblem(`${'é'.repeat(251)}.pdf`)).toBeUndefined(); // 255 characters (more bytes)
    expect(nameProblem(`${'a'.repeat(252)}.pdf`)).toMatch(/256 characters/);
    expect(nameProblem('')).toMatch(/empty/);
    expect(nameProblem('..')).toMatch(/not a file name/);
    expect(nameProblem('a/b.pdf')).toMatch(/separator/);
    expect(nameProblem('a\\b.pdf')).toMatch(/separator/);
    expect(nameProblem('a\nb.pdf')).toMatch(/control/);
    expect(nameProblem(' a.pdf')).toMatch(/white space/);
    expect(nameProblem('README')).toMatch(/extension/);
    expect(nameProblem('.hidden')).toMatch(/extension/);
    expect(nameProblem('trailing.')).toMatch(/extension/);
  });

  it('part arithmetic', () => {
    expect(expectedParts(25 * 1024 * 1024, 10 * 1024 * 1024)).toBe(3);
    expect(expectedParts(20 * 1024 * 1024, 10 * 1024 * 1024)).toBe(2);
    expect(expectedPartSize(25, 10, 3)).toBe(5);
    expect(expectedPartSize(25, 10, 2)).toBe(10);
    expect(expectedPartSize(25, 10, 4)).toBe(-1);
  });

  it('jobIdOf accepts job_id and job-id; appRef tells ids from names', () => {
    expect(jobIdOf({ job_id: 'a' })).toBe('a');
    expect(jobIdOf({ 'job-id': '4cf36c71-de8a-46c7-b05e-b86947319331' })).toBe('4cf36c71-de8a-46c7-b05e-b86947319331');
    expect(jobIdOf({})).toBeUndefined();
    expect(jobIdOf(null)).toBeUndefined();
    expect(appRef('Invoice Extractor')).toEqual({ app_name: 'Invoice Extractor' });
    expect(appRef('4cf36c71-de8a-46c7-b05e-b86947319331')).toEqual({ app_id: '4cf36c71-de8a-46c7-b05e-b86947319331' });
    expect(appRef('id:42')).toEqual({ app_id: '42' });
    expect(appRef('name:4cf36c71-de8a-46c7-b05e-b86947319331')).toEqual({ app_name: '4cf36c71-de8a-46c7-b05e-b86947319331' });
  });
});

describe('plan and settings', () => {
  const item = (i: number, size: number): Item => ({
    source: `/in/f${i}.pdf`,
    kind: 'file',
    path: `/in/f${i}.pdf`,
    order: i,
    name: `f${i}.pdf`,
    size,
    format: 'pdf',
  });

  it('one batch; PUT up to 10 MiB, multipart above', () => {
    const plans = planAihub({ items: [item(0, 10 * 1024 * 1024), item(1, 10 * 1024 * 1024 + 1), item(2, 5)], mode: 'auto' });
    expect(plans).toHaveLength(1);
    expect(plans[0]!.files).toBe(3);
    expect(plans[0]!.reason).toBe('into a new batch: 2 PUT (≤ 10 MiB), 1 multipart session');
    expect(planAihub({ items: [item(0, 1)], mode: 'auto', salt: '', batchId: '17' })[0]!.batchId).toBe('17');
    expect(planAihub({ items: [], mode: 'auto' })).toEqual([]);
  });

  it('screen: unusable names and later duplicates (scan order) are refused; URLs never reach it', () => {
    const a = { ...item(2, 1), name: 'same.pdf' };
    const b = { ...item(1, 1), name: 'same.pdf', source: '/other/same.pdf' };
    const c = { ...item(3, 1), name: 'a/b.pdf' };
    expect(screenItems([a, b, c, item(5, 1)]).map((r) => [r.item.order, r.rule])).toEqual([
      [2, 'duplicate-name'],
      [3, 'bad-name'],
    ]);
    expect(aihub.capabilities.inputs).toEqual(['file']);
  });

  it('options: flags by key, checked without I/O (before any file is read)', () => {
    const o = aihubOptions({ batchName: ' q3 ', workspace: 'ws', ibContext: 'org', runApp: 'app', resultsFile: 'r.json', other: true }, {});
    expect(o).toEqual({ batchName: 'q3', workspace: 'ws', ibContext: 'org', runApp: 'app', resultsFile: 'r.json' });
    expect(() => aihubOptions({}, {})).toThrow(/--batch-name NAME .* or --batch-id/);
    expect(() => aihub.credentials({}, 'https://aihub.example/api', Date.now)).toThrow(/token/);
    expect(() => aihubOptions({ batchName: 'x'.repeat(256) }, {})).toThrow(/at most 255/);
    expect(() => aihubOptions({}, { batchId: 'abc' })).toThrow(/batch number/);
    expect(() => aihubOptions({ batchName: 'x', resultsFile: 'r' }, {})).toThrow(/--results needs --run-app/);
    expect(() => aihubOptions({}, { batchId: '12' })).not.toThrow();
    expect(() => aihubOptions({ batchName: 'x', ibContext: 'org\r\nX-Evil: 1' }, {})).toThrow(/IB-Context/);
    expect(() => aihubOptions({ batchName: 'x', ibContext: 'org-42 team' }, {})).not.toThrow();
    expect(aihub.flags.map((f) => f.flags)).toEqual(['--batch-name <name>', '--workspace <name>', '--ib-context <id>', '--run-app <app>', '--results <file>']);
    // A different batch is a different result: the inputs' fingerprint changes.
    expect(aihub.fingerprint!(aihubOptions({ batchName: 'a' }, {}))).not.toBe(aihub.fingerprint!(aihubOptions({ batchName: 'b' }, {})));
  });

  it('management commands: aihub endpoint only from aihub settings', async () => {
    const env = { BATCHUP_CONFIG_DIR: '/nonexistent-batchup-cfg', BATCHUP_TOKEN: 't' };
    const r1 = await connectionSettings([aihub], {}, { ...env, BATCHUP_PROVIDER: 'bach', BATCHUP_ENDPOINT: 'http://bach.example/api/vdr' });
    expect([r1.provider.name, r1.endpoint]).toEqual(['aihub', 'https://aihub.instabase.com/api']);
    expect((await connectionSettings([aihub], {}, { ...env, BATCHUP_PROVIDER: 'aihub', BATCHUP_ENDPOINT: 'http://127.0.0.1:9/api' })).endpoint).toBe(
      'http://127.0.0.1:9/api',
    );
    const r3 = await connectionSettings([aihub], { endpoint: 'http://x.example/api' }, env);
    expect(r3.endpoint).toBe('http://x.example/api');
    expect(r3.credentials.origin).toBe('http://x.example');
    await expect(connectionSettings([aihub], { provider: 'bach' }, env)).rejects.toThrow(/available for aihub/);
    await expect(connectionSettings([aihub], {}, { BATCHUP_CONFIG_DIR: '/nonexistent-batchup-cfg' })).rejects.toThrow(/needs an API token/);
  });

  it('table aligns columns', () => {
    expect(
      table(
        ['ID', 'NAME'],
        [
          ['1', 'a'],
          ['10', 'bb'],
        ],
      ),
    ).toEqual(['ID  NAME', '1   a', '10  bb']);
    expect(
      table(
        ['SIZE', 'NAME'],
        [
          ['5', 'a'],
          ['100', 'b'],
        ],
        [true],
      ),
    ).toEqual(['SIZE  NAME', '   5  a', ' 100  b']);
    expect(table(['X'], [])).toEqual([]);
  });
});

describe('validation of documents (aihub policy)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('accepts PDF, DOCX, PNG, JPEG, TIFF', async () => {
    const docx = await validatePath(tmp.write('letter.docx', makeDocx(1)), aihubPolicy);
    expect(docx.ok && docx.item.format).toBe('docx');
    const pdf = await validatePath(tmp.write('scan.pdf', makePdf(1, { minBytes: 5000 })), aihubPolicy);
    expect(pdf.ok && pdf.item.format).toBe('pdf');
    const png = await validatePath(tmp.write('p.png', makePng(3)), aihubPolicy);
    expect(png.ok && png.item.format).toBe('png');
    for (const f of ['photo.jpg', 'scan.tiff']) {
      const r = await validatePath(tmp.write(f, fixture(f)), aihubPolicy);
      expect(ruleOf(r), messageOf(r)).toBe('ok');
    }
  });

  it('a DOCX whose [Content_Types].xml comes after a large part is still a DOCX, not an unsafe ZIP', async () => {
    const r = await validatePath(tmp.write('big-media.docx', makeDocx(2, { mediaBytes: 200_000 })), aihubPolicy);
    expect(ruleOf(r), messageOf(r)).toBe('ok');
    expect(r.ok && r.item.format).toBe('docx');
  });

  it('a plain ZIP named .docx is disguised; a truncated DOCX is corrupt; ZIPs are not aihub uploads', async () => {
    const zip = makeZip([{ name: 'a.txt', data: Buffer.from('hello') }]);
    expect(messageOf(await validatePath(tmp.write('fake.docx', zip), aihubPolicy))).toBe(
      'fake.docx: content is ZIP, not DOCX (no [Content_Types].xml) (disguised)',
    );
    expect(ruleOf(await validatePath(tmp.write('cut.docx', makeDocx(3).subarray(0, 200)), aihubPolicy))).toBe('corrupt');
    expect(ruleOf(await validatePath(tmp.write('a.zip', zip), aihubPolicy))).toBe('unsupported-type');
  });

  it('a PDF cut short is corrupt; PDF content behind .jpg is disguised', async () => {
    const pdf = makePdf(4, { minBytes: 4000 });
    expect(messageOf(await validatePath(tmp.write('cut.pdf', pdf.subarray(0, 3000)), aihubPolicy))).toBe(
      'cut.pdf: PDF is truncated (no %%EOF marker at the end) (corrupt)',
    );
    expect(ruleOf(await validatePath(tmp.write('invoice.jpg', pdf), aihubPolicy))).toBe('disguised');
  });

  it('bach still refuses documents as unsupported', async () => {
    expect(ruleOf(await validatePath(tmp.write('b.pdf', makePdf(5)), bachPolicy))).toBe('unsupported-type');
    expect(ruleOf(await validatePath(tmp.write('b.docx', makeDocx(5, { mediaBytes: 100_000 })), bachPolicy))).toBe('unsupported-type');
  });
});

describe('CLI wiring of batches / runs (main)', () => {
  const sink = () => {
    const chunks: string[] = [];
    return { chunks, text: () => chunks.join(''), write: (s: string) => (chunks.push(String(s)), true), isTTY: false };
  };
  async function run(args: string[], env: Record<string, string> = {}) {
    const { main } = await import('../../src/cli/main.js');
    const { Readable } = await import('node:stream');
    const stdout = sink();
    const stderr = sink();
    const code = await main(['node', 'batchup', ...args], {
      stdout,
      stderr,
      stdin: Readable.from([]),
      env: { BATCHUP_CONFIG_DIR: '/nonexistent-batchup-cfg', ...env },
      cwd: '/tmp',
    } as never);
    return { code, out: stdout.text(), err: stderr.text() };
  }

  it('help lists the subcommands; usage and config errors map to exit 2', async () => {
    const h = await run(['batches', '--help']);
    expect(h.code).toBe(0);
    for (const c of ['list', 'show', 'create', 'files', 'rm', 'job']) expect(h.out).toContain(c);
    expect((await run(['runs', '--help'])).out).toMatch(/start[\s\S]*show[\s\S]*results/);
    expect((await run(['batches', 'list'])).code).toBe(2); // no token
    expect((await run(['batches', 'show', 'abc'], { BATCHUP_TOKEN: 't' })).code).toBe(2);
    expect((await run(['batches', 'list', '--provider', 'bach'], { BATCHUP_TOKEN: 't' })).err).toMatch(/available for aihub/);
    expect((await run(['runs', 'start', 'app'], { BATCHUP_TOKEN: 't' })).code).toBe(2); // --batch-id is required
    const upload = await run(['upload', '--help']);
    for (const f of ['--batch-name', '--workspace', '--ib-context', '--run-app', '--results']) expect(upload.out).toContain(f);
  });

  it('an unreachable API is a REMOTE error (6), JSON error event with --json', async () => {
    const r = await run(['batches', 'list', '--json', '--endpoint', 'http://127.0.0.1:9/api', '--max-retries', '0'], { BATCHUP_TOKEN: 't' });
    expect(r.code).toBe(6);
    expect(JSON.parse(r.out.trim().split('\n').pop()!)).toMatchObject({ type: 'error', code: 'NETWORK', exitCode: 6 });
  });
});
