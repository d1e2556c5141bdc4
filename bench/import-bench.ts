import { closeSync, openSync, readFileSync, rmSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { importLackeySync } from '../src/import/lackey-importer.js';
import { LackeyAccesses, LackeyParser } from '../src/import/lackey-parser.js';
import { lineBlocksSync } from '../src/import/line-reader.js';
import { importRtdirtySync } from '../src/import/rtdirty-importer.js';
import { type BenchRow, benchScratchDir, timeIt } from './bench-util.js';

/**
 * The real captures the synthetic ones are made from (test/import/samples,
 * copies of the shared samples), from bench/ or from dist/bench/.
 */
const SAMPLE_DIRS = [join(import.meta.dirname, '..', 'test', 'import', 'samples'), join(import.meta.dirname, '..', '..', 'test', 'import', 'samples')];

function sample(name: string): string {
  for (const dir of SAMPLE_DIRS) {
    try {
      return readFileSync(join(dir, name), 'utf8');
    } catch {
      // Try the next place.
    }
  }
  throw new Error(`bench: sample ${name} not found in ${SAMPLE_DIRS.join(' or ')}`);
}

/**
 * Import speed. rtdirty: the python boot capture repeated as a chain of
 * processes (each repetition a new process, later in time), imported into
 * a workload trace: lines/s and D pages/s. lackey: about 200 MB of lackey
 * lines made from the gzip excerpt (data addresses shifted per repetition
 * so the program keeps touching new pages), imported end to end (parse,
 * guest kernel, trace, digest), and parsed alone.
 */
export function importBench(lackeyMiB = Number(process.env['BENCH_LACKEY_MIB'] ?? 200), rtdirtyRepeats = Number(process.env['BENCH_RTDIRTY_REPEATS'] ?? 100)): BenchRow[] {
  const rows: BenchRow[] = [];
  const dir = benchScratchDir();

  // rtdirty.
  const rtFile = join(dir, 'migsim-bench-rtdirty.trace');
  const rtOut = join(dir, 'migsim-bench-rtdirty.mst');
  const { lines, pages } = writeRtdirty(rtFile, rtdirtyRepeats);
  const rt = timeIt(() => importRtdirtySync({ file: rtFile, out: rtOut, seed: 1, memBytes: 1024 ** 3 }));
  rows.push({ scenario: 'import rtdirty', metric: 'capture', value: `${lines.toLocaleString('en-US')} lines, ${(statSync(rtFile).size / 1e6).toFixed(1)} MB, ${pages.toLocaleString('en-US')} D pages` });
  rows.push({ scenario: 'import rtdirty', metric: 'lines/s (end to end)', value: `${Math.round(lines / rt.seconds).toLocaleString('en-US')}/s` });
  rows.push({ scenario: 'import rtdirty', metric: 'D pages/s (end to end)', value: `${(pages / rt.seconds / 1e6).toFixed(2)} M/s` });
  rows.push({ scenario: 'import rtdirty', metric: 'guest events', value: rt.value.footer.guestEvents.toLocaleString('en-US') });
  rmSync(rtFile, { force: true });
  rmSync(rtOut, { force: true });

  // rtdirty, PostgreSQL-like: forked backends writing a shared buffer pool
  // (every shared frame becomes a shmem mapping in each process using it).
  const pgFile = join(dir, 'migsim-bench-rtdirty-pg.trace');
  const pgOut = join(dir, 'migsim-bench-rtdirty-pg.mst');
  const pg = writePostgresLike(pgFile, Number(process.env['BENCH_PG_TICKS'] ?? 100), 40);
  const pgMb = statSync(pgFile).size / 1e6;
  const pgRun = timeIt(() => importRtdirtySync({ file: pgFile, out: pgOut, seed: 1, memBytes: 1024 ** 3 }));
  rows.push({ scenario: 'import rtdirty (postgres-like)', metric: 'capture', value: `${pg.lines.toLocaleString('en-US')} lines, ${pgMb.toFixed(1)} MB, ${pg.pages.toLocaleString('en-US')} D pages` });
  rows.push({ scenario: 'import rtdirty (postgres-like)', metric: 's/MB (end to end)', value: `${(pgRun.seconds / pgMb).toFixed(2)} s/MB` });
  rmSync(pgFile, { force: true });
  rmSync(pgOut, { force: true });

  // lackey.
  const lkFile = join(dir, 'migsim-bench-lackey.txt');
  const lkOut = join(dir, 'migsim-bench-lackey.mst');
  writeLackey(lkFile, lackeyMiB * 1024 * 1024);
  const bytes = statSync(lkFile).size;
  const mb = bytes / 1e6;
  const parseOnly = timeIt(() => {
    const parser = new LackeyParser(() => {
      throw new Error('bench: malformed synthetic lackey line');
    });
    const acc = new LackeyAccesses();
    for (const block of lineBlocksSync(lkFile)) parser.parse(block, acc);
    return parser.lines;
  });
  const lk = timeIt(() => importLackeySync({ file: lkFile, out: lkOut, seed: 1, memBytes: 1024 ** 3 }));
  const rate = mb / lk.seconds;
  rows.push({ scenario: 'import lackey', metric: 'log', value: `${mb.toFixed(0)} MB, ${parseOnly.value.toLocaleString('en-US')} lines` });
  rows.push({ scenario: 'import lackey', metric: 'parse only', value: `${(mb / parseOnly.seconds).toFixed(0)} MB/s` });
  rows.push({ scenario: 'import lackey', metric: 'MB/s (end to end)', value: `${rate.toFixed(0)} MB/s`, target: '>= 200 MB/s', ok: rate >= 200 });
  rows.push({ scenario: 'import lackey', metric: 'guest events', value: lk.value.footer.guestEvents.toLocaleString('en-US') });
  rmSync(lkFile, { force: true });
  rmSync(lkOut, { force: true });
  return rows;
}

/** The python boot capture, `repeats` times, each time a new process starting where the last ended. */
function writeRtdirty(file: string, repeats: number): { lines: number; pages: number } {
  const text = sample('python_boot_10ms.trace').split('\n');
  const header = text[0]!;
  const body = text.slice(1).filter((l) => l.length > 0 && !l.startsWith('#'));
  const spanMs = Math.max(...body.map((l) => Number(l.split(' ')[1]))) + 10;
  const fd = openSync(file, 'w');
  let lines = 1;
  let pages = 0;
  writeSync(fd, header + '\n');
  for (let r = 0; r < repeats; r++) {
    const offsetMs = r * spanMs;
    const out: string[] = [];
    for (const l of body) {
      const f = l.split(' ');
      f[1] = (Number(f[1]) + offsetMs).toFixed(3);
      if (f[0] !== 'S') f[2] = String(Number(f[2]) + r * 10);
      if (f[0] === 'P') f[3] = String(Number(f[3]) + r * 10);
      if (f[0] === 'D') pages += Number(f[3]);
      out.push(f.join(' '));
    }
    writeSync(fd, out.join('\n') + '\n');
    lines += out.length;
  }
  closeSync(fd);
  return { lines, pages };
}

/** About `bytes` of lackey lines: the excerpt's records over and over, data pages shifted per pass. */
function writeLackey(file: string, bytes: number): void {
  const body = sample('lackey_gzip_excerpt.txt')
    .split('\n')
    .filter((l) => l.length > 0 && !l.startsWith('=='));
  const fd = openSync(file, 'w');
  let written = 0;
  for (let r = 0; written < bytes; r++) {
    // Stack and data addresses move by up to 64 MiB, so new pages keep being faulted in.
    const shift = (r % 16384) * 4096;
    const out = body.map((l) => {
      if (l[0] === 'I') return l;
      const comma = l.indexOf(',');
      const addr = parseInt(l.slice(3, comma), 16) + shift;
      return `${l.slice(0, 3)}${addr.toString(16)}${l.slice(comma)}`;
    });
    const chunk = out.join('\n') + '\n';
    writeSync(fd, chunk);
    written += chunk.length;
  }
  closeSync(fd);
}

/**
 * A PostgreSQL-like rtdirty capture of about `ticks` 50 ms ticks: a
 * postmaster forks `backends` backends over the first ticks; every tick each
 * live backend writes 40 pages of a `sharedPages`-page shared buffer pool
 * (the same frames in every process: d lines, so the importer finds shared
 * frames) and 20 pages of its own heap. Drawn from a fixed xorshift, so
 * every run writes the same file; `ticks` 100 and `backends` 40 make about
 * 3.4 MB.
 */
export function writePostgresLike(file: string, ticks: number, backends: number, sharedPages = 32_768): { lines: number; pages: number } {
  let x = 0x9e3779b9;
  const rand = (n: number) => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x % n;
  };
  const SHARED = sharedPages;
  const sharedVpn = 0x7f0000000;
  const sharedFrame = 0x100000;
  const out: string[] = ['# rtdirty v1 page_size 4096 interval_ms 50.0 mechanism uffd-wp-async+PAGEMAP_SCAN'];
  let pages = 0;
  out.push('P 0.100 100 1', 'B 0.100 100 1 55a000000', 'b 0.100 100 1 90000');
  const live: number[] = [];
  for (let tick = 0; tick < ticks; tick++) {
    const t0 = tick * 50;
    let dirty = 0;
    if (live.length < backends) {
      const pid = 1000 + live.length;
      out.push(`P ${(t0 + 1).toFixed(3)} ${pid} 100`, `B ${(t0 + 1).toFixed(3)} ${pid} 1 55a000000`, `b ${(t0 + 1).toFixed(3)} ${pid} 1 90000`);
      live.push(pid);
    }
    for (let i = 0; i < live.length; i++) {
      const pid = live[i]!;
      const picked = new Set<number>();
      while (picked.size < 40) picked.add(rand(SHARED));
      const heap = new Set<number>();
      while (heap.size < 20) heap.add(rand(4096));
      const vpns = [...[...picked].map((p) => (sharedVpn + p).toString(16)), ...[...heap].map((h) => (0x55a001000 + h).toString(16))];
      const frames = [...[...picked].map((p) => (sharedFrame + p).toString(16)), ...[...heap].map((h) => (0x200000 + i * 4096 + h).toString(16))];
      const t = (t0 + 2 + (i * 45) / live.length).toFixed(3);
      out.push(`D ${t} ${pid} ${vpns.length} ${vpns.join(' ')}`, `d ${t} ${pid} ${frames.length} ${frames.join(' ')}`);
      dirty += vpns.length;
    }
    pages += dirty;
    out.push(`S ${(t0 + 50).toFixed(3)} ${live.length + 1} ${dirty} 0.050`);
  }
  const fd = openSync(file, 'w');
  writeSync(fd, out.join('\n') + '\n');
  closeSync(fd);
  return { lines: out.length, pages };
}
