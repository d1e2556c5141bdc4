// Checks the foundation's command line end to end: record prints its seed
// and writes a trace that inspect describes and replay --verify confirms;
// every kind of bad input is one line on stderr with exit code 2.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { inspect } from '../../src/api/inspect.js';
import { readRecords, writeRecords } from '../helpers/trace-frames.js';
import { tempDir } from '../helpers/temp-dir.js';
import { runCli } from './cli-run.js';

const dir = tempDir();
const trace = join(dir, 'hs.mst');

describe('migsim record / inspect / replay', () => {
  it('record prints the seed it used and writes the trace', async () => {
    const r = await runCli('record', 'hot-set', '-o', trace, '--duration', '100ms', '--mem', '64MiB', '--set', 'rate=100000', '--set', 'hotPages=64');
    expect(r.code).toBe(0);
    expect(r.err).toMatch(/^seed \d+\n$/);
    expect(r.out).toMatch(/recorded hot-set \(seed \d+\): 10,001 events/);
    expect(existsSync(trace)).toBe(true);
  });

  it('inspect --json reports counts by kind, span, distinct pages and bytes per event', async () => {
    const r = await runCli('inspect', trace, '--json');
    expect(r.code).toBe(0);
    const j = JSON.parse(r.out);
    expect(j.guestEvents).toBe(10_001);
    expect(j.guestEventsByKind).toEqual({ phys_write: 10_001 });
    expect(j.spanNs).toBe(100e6);
    expect(j.distinctPages.physWritten).toBeGreaterThan(64);
    expect(j.workload).toMatchObject({ name: 'hot-set', params: { rate: 100000, hotPages: 64 } });
    expect(j.bytesPerEvent).toBeGreaterThan(0);
  });

  it('inspect prints a readable summary', async () => {
    const r = await runCli('inspect', trace);
    expect(r.out).toContain('phys_write');
    expect(r.out).toContain('bytes/event');
  });

  it('replay --verify says identical and exits 0 for an untouched trace', async () => {
    const r = await runCli('replay', trace, '--verify');
    expect(r.code).toBe(0);
    expect(r.out).toContain('identical (10,001 events');
  });

  it('replay --verify names the first differing chunk and event and exits 1 when the header no longer matches the events', async () => {
    const recs = readRecords(trace);
    const h = recs[0] as { workload: { params: Record<string, unknown> } };
    const edited = { ...h, workload: { ...h.workload, params: { ...h.workload.params, hotPages: 65 } } };
    const file = join(dir, 'edited.mst');
    writeRecords(file, [edited, ...recs.slice(1)]);
    const r = await runCli('replay', file, '--verify');
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/differs at chunk 0, event \d+ .*: page recorded \d+, regenerated \d+/);
  });

  it("inspect of a run trace spans the guest's events only: run events after the last guest event do not stretch it", async () => {
    const run = join(dir, 'run.mst');
    // The guest stops at 300 ms, mid-migration: the final copy's run events come later.
    const r = await runCli('run', 'hot-set', '--tracker', 'hap', '--duration', '300ms', '--mem', '64MiB', '--seed', '3', '--start', '100ms', '--record', run);
    expect(r.code).toBe(0);
    // The vCPUs' stalls put the last run events past the guest's 300 ms.
    expect(inspect(run).footer.lastNs).toBeGreaterThan(300e6);
    const j = JSON.parse((await runCli('inspect', run, '--json')).out);
    expect(j.lastNs).toBe(300e6);
    expect(j.spanNs).toBe(300e6);
  });

  it('same seed twice gives byte-identical files through the CLI', async () => {
    const a = join(dir, 'a.mst');
    const b = join(dir, 'b.mst');
    await runCli('record', 'hot-set', '-o', a, '--seed', '9', '--duration', '20ms', '--mem', '16MiB');
    await runCli('record', 'hot-set', '-o', b, '--seed', '9', '--duration', '20ms', '--mem', '16MiB');
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });
});

describe('bad input is one clear line and exit 2', () => {
  const cases: [string, () => string[], RegExp][] = [
    ['an unknown workload', () => ['record', 'nosuch', '-o', join(dir, 'x.mst')], /unknown workload 'nosuch' \(built in: hot-set/],
    ['an unknown parameter', () => ['record', 'hot-set', '-o', join(dir, 'x.mst'), '--set', 'speed=3'], /workload 'hot-set' has no parameter 'speed'/],
    ['a bad parameter value', () => ['record', 'hot-set', '-o', join(dir, 'x.mst'), '--set', 'hotFraction=2'], /bad value '2' for 'hotFraction': must be between 0 and 1/],
    ['a bad duration', () => ['record', 'hot-set', '-o', join(dir, 'x.mst'), '--duration', 'soon'], /not a duration/],
    ['an impossible memory size', () => ['record', 'hot-set', '-o', join(dir, 'x.mst'), '--mem', '8TiB'], /exceeds what the model's PTE holds/],
    ['too little memory for a guest kernel', () => ['record', 'muncher', '-o', join(dir, 'x.mst'), '--mem', '8MiB'], /guest kernel needs at least 16 MiB of memory .*; give the guest more with --mem$/m],
    ['a workload the guest runs out of memory for', () => ['run', 'apache', '--tracker', 'hap', '--mem', '17MiB', '--duration', '1s'], /guest out of direct-mapped \(lowmem\) memory: .* give the guest more memory \(--mem\)/],
    ['workload parameters the guest cannot fit', () => ['record', 'apache', '-o', join(dir, 'x.mst'), '--mem', '64MiB', '--set', 'pagesPerRequest=2000'], /apache: the request pool \(3 x pagesPerRequest = 6000 pages\) does not fit the worker heap/],
    ['a missing file', () => ['inspect', join(dir, 'missing.mst')], /missing\.mst: cannot read: no such file or directory \(ENOENT\): check the path/],
    ['a truncated file', () => {
      const f = join(dir, 'trunc.mst');
      writeFileSync(f, readFileSync(trace).subarray(0, 200));
      return ['inspect', f];
    }, /trunc\.mst: truncated: .* \(.*at byte [\d,]+\): the recording was interrupted; record it again/],
    ['a corrupted byte', () => {
      const f = join(dir, 'flip.mst');
      const b = readFileSync(trace);
      b[100] ^= 0x40;
      writeFileSync(f, b);
      return ['replay', f, '--verify'];
    }, /flip\.mst: checksum mismatch .*at byte 13.*: the file is corrupted/],
    ['a file that is not a trace', () => {
      const f = join(dir, 'notes.txt');
      writeFileSync(f, 'hello world, this is not a trace\n');
      return ['inspect', f];
    }, /notes\.txt: not a migsim trace \(wrong magic\)/],
  ];
  for (const [what, args, message] of cases) {
    it(`${what}`, async () => {
      const r = await runCli(...args());
      expect(r.code).toBe(2);
      expect(r.err).toMatch(message);
      // One line, besides the seed a generating command reports before it starts.
      expect(r.err.trim().split('\n').filter((l) => !/^seed \d+$/.test(l)).length).toBe(1);
      expect(r.err).not.toMatch(/\n\s+at /); // no stack trace
    });
  }

  it('a failed record leaves no partial file and keeps an earlier file intact', async () => {
    const keep = join(dir, 'keep.mst');
    writeFileSync(keep, 'earlier');
    const r = await runCli('record', 'hot-set', '-o', keep, '--set', 'bytes=x');
    expect(r.code).toBe(2);
    expect(readFileSync(keep, 'utf8')).toBe('earlier');
    expect(existsSync(`${keep}.partial`)).toBe(false);
  });

  it('--help works on every command', async () => {
    for (const cmd of [[], ['record'], ['inspect'], ['replay']]) {
      const r = await runCli(...cmd, '--help');
      expect(r.code).toBe(0);
      expect(r.out).toContain('Usage: migsim');
    }
    const w = await runCli('record', 'hot-set', '--help');
    expect(w.out).toContain("Workload 'hot-set'");
    expect(w.out).toContain('hotFraction');
  });
});
