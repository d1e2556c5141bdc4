// The lackey importer: valgrind's memory trace of one program becomes the
// guest events of one process, loads as reads and stores as writes, timed
// by the instructions executed; bad lines are named by number and content.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { GuestEventKind } from '../../src/events/guest-event-kind.js';
import { importLackey } from '../../src/import/lackey-importer.js';
import { LackeyAccesses, LackeyParser } from '../../src/import/lackey-parser.js';
import { runCli } from '../cli/cli-run.js';
import { tempDir } from '../helpers/temp-dir.js';
import { sample, traceEvents, userWrites } from './import-helpers.js';

const dir = tempDir('migsim-lackey-');
const MEM = 64 * 1024 * 1024;
const EXCERPT = sample('lackey_gzip_excerpt.txt');

function log(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

describe('import lackey', () => {
  it('an excerpt imports: I records are guest time, L reads, S and M writes, == lines skipped', async () => {
    const out = join(dir, 'excerpt.mst');
    const r = await importLackey({ file: EXCERPT, out, seed: 1, memBytes: MEM, ips: 1e9, hz: 0 });
    const lines = readFileSync(EXCERPT, 'utf8').split('\n');
    const count = (prefix: string) => lines.filter((l) => l.startsWith(prefix)).length;
    expect(r.footer.workloadStats).toMatchObject({
      instructions: count('I '),
      loads: count(' L '),
      stores: count(' S '),
      modifies: count(' M '),
      messageLines: count('=='),
      processesCreated: 1,
      skippedLines: 0,
    });
    expect(r.header.workload).toMatchObject({ name: 'import:lackey', seed: 1, params: { ips: 1e9, hz: 0 } });
    expect(r.header.source).toMatchObject({ format: 'lackey', file: 'lackey_gzip_excerpt.txt', clock: 'instructions' });
    const events = traceEvents(out);
    const user = events.filter((e) => e.page >= 0 && (e.kind === GuestEventKind.write || e.kind === GuestEventKind.read));
    expect(user.filter((e) => e.kind === GuestEventKind.write).length).toBe(count(' S ') + count(' M '));
    expect(user.filter((e) => e.kind === GuestEventKind.read).length).toBe(count(' L '));
    // At 1e9 instructions/s an instruction is a nanosecond: the program's
    // accesses span (at least) its instruction count.
    const span = user[user.length - 1]!.tNs - user[0]!.tNs;
    expect(span).toBeGreaterThanOrEqual(count('I ') - 100);
    expect(r.header.workload.durationNs).toBeGreaterThanOrEqual(user[user.length - 1]!.tNs);
  });

  it('a store that straddles a page boundary dirties both pages', async () => {
    const file = log('straddle.txt', ['I  04000000,3', ' S 1ffefffffc,8', 'I  04000003,3', ' S 1ffefff000,4']);
    const out = join(dir, 'straddle.mst');
    const r = await importLackey({ file, out, seed: 1, memBytes: MEM, hz: 0 });
    expect(r.footer.workloadStats).toMatchObject({ stores: 2, straddles: 1, pagesWritten: 2 });
    const writes = userWrites(out);
    expect(writes.length).toBe(3);
    // The straddling store: 4 bytes at the end of one page, 4 at the start of the next, at one instant.
    expect(writes[1]!.page).toBe(writes[0]!.page + 1);
    expect(writes[1]!.tNs).toBe(writes[0]!.tNs);
    expect([writes[0]!.arg, writes[1]!.arg]).toEqual([4, 4]);
    // The next store is to the first page again.
    expect(writes[2]!.page).toBe(writes[0]!.page);
  });

  it("a malformed line stops the import with FILE:LINE: malformed <what>: '<content>', exit 2 and no output file", async () => {
    const lines = readFileSync(EXCERPT, 'utf8').split('\n');
    lines.splice(19, 0, ' S 1fff00073g,8');
    const file = log('bad-lackey.txt', lines);
    const out = join(dir, 'bad-lackey.mst');
    const r = await runCli('import', 'lackey', file, '-o', out, '--seed', '1', '--mem', '64MiB');
    expect(r.code).toBe(2);
    expect(r.err).toBe(`seed 1\nmigsim: ${file}:20: malformed memory access record: ' S 1fff00073g,8'\n`);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((f) => f.startsWith('bad-lackey.mst'))).toEqual([]);
  });

  it('--skip-bad skips malformed lines and reports how many', async () => {
    const lines = readFileSync(EXCERPT, 'utf8').split('\n');
    lines.splice(19, 0, ' S 1fff00073g,8');
    lines.splice(30, 0, 'I  zz,3');
    lines.splice(40, 0, 'garbage');
    const file = log('bad-lackey-3.txt', lines);
    const out = join(dir, 'skipped-lackey.mst');
    const r = await runCli('import', 'lackey', file, '-o', out, '--seed', '1', '--mem', '64MiB', '--skip-bad');
    expect(r.code).toBe(0);
    expect(r.err).toContain(`skipped ${file}:20: malformed memory access record: ' S 1fff00073g,8'`);
    expect(r.err).toContain(`skipped ${file}:31: malformed instruction record: 'I  zz,3'`);
    expect(r.err).toContain(`skipped ${file}:41: malformed record (not I, L, S, M or a == message): 'garbage'`);
    expect(r.err).toContain('skipped 3 malformed lines\n');
    expect(existsSync(out)).toBe(true);
  });

  it('an instruction or access size lackey cannot print (no x86 instruction has it) is refused on its line', async () => {
    const lines = readFileSync(EXCERPT, 'utf8').split('\n');
    for (const [bad, why] of [
      ['I  0401ab70,99999999999', 'instruction record (size 99999999999: lackey reports instructions of 1 to 16 bytes, or 19 for valgrind\'s client-request sequence)'],
      ['I  0401ab70,0', 'instruction record (size 0: lackey reports instructions of 1 to 16 bytes, or 19 for valgrind\'s client-request sequence)'],
      [' S 1fff000738,513', 'memory access record (size 513: lackey reports accesses of 1 to 512 bytes, the most one x86 instruction stores)'],
    ] as const) {
      const file = log('bad-size.txt', [...lines.slice(0, 19), bad, ...lines.slice(19)]);
      await expect(importLackey({ file, out: join(dir, 'bad-size.mst'), seed: 1, memBytes: MEM, ips: 1e9, hz: 0 })).rejects.toThrow(`${file}:20: malformed ${why}: '${bad}'`);
    }
    // The largest sizes lackey does print import.
    const file = log('big-sizes.txt', [...lines.slice(0, 19), 'I  0401ab70,16', 'I  0401ab80,19', ' S 1fff000738,512', ...lines.slice(19)]);
    await expect(importLackey({ file, out: join(dir, 'big-sizes.mst'), seed: 1, memBytes: MEM, ips: 1e9, hz: 0 })).resolves.toBeDefined();
  });

  it('the parser reads the same accesses however the log is cut into blocks', () => {
    const text = readFileSync(EXCERPT);
    const parse = (cuts: number) => {
      const p = new LackeyParser(() => {
        throw new Error('malformed');
      });
      const acc = new LackeyAccesses();
      const pages: number[] = [];
      let start = 0;
      for (let i = 1; i <= cuts; i++) {
        const want = Math.floor((text.length * i) / cuts);
        const end = i === cuts ? text.length : text.lastIndexOf(10, want - 1) + 1;
        if (end <= start) continue;
        p.parse(text.subarray(start, end), acc);
        for (let k = 0; k < acc.count; k++) pages.push(acc.page[k]!, acc.size[k]!, acc.instr[k]!, acc.kind[k]!);
        start = end;
      }
      return { pages, lines: p.lines, instructions: p.instructions };
    };
    expect(parse(97)).toEqual(parse(1));
    expect(parse(1).lines).toBe(3000);
  });
});
