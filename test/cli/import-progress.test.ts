// Checks the progress of `migsim import`: both importers tell onProgress
// the share of the capture read (of the compressed file, for gzip), once
// per block of lines, not per line; the command draws it as a bar on
// stderr on a terminal, and none with --json or on a pipe.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { importLackey } from '../../src/import/lackey-importer.js';
import { importRtdirty, importRtdirtySync } from '../../src/import/rtdirty-importer.js';
import { sample } from '../import/import-helpers.js';
import { expectRisingShares } from '../helpers/progress-fractions.js';
import { tempDir } from '../helpers/temp-dir.js';
import { BAR_CLEARED, runCliAt } from './cli-run.js';

const dir = tempDir();
const rtdirty = sample('python_boot_10ms.trace');
// 3,000 lines, 43 KB: one read of the file.
const lackey = sample('lackey_gzip_excerpt.txt');
const ESC = '\u001b';

describe('import progress', () => {
  it('the rtdirty importer reports the share of the capture read, asynchronously and not', async () => {
    const shares: number[] = [];
    await importRtdirty({ file: rtdirty, out: join(dir, 'async.mst'), seed: 1, onProgress: (f) => shares.push(f) });
    expectRisingShares(shares, 1);
    const syncShares: number[] = [];
    importRtdirtySync({ file: rtdirty, out: join(dir, 'sync.mst'), seed: 1, onProgress: (f) => syncShares.push(f) });
    expectRisingShares(syncShares, 1);
  });

  it('the lackey importer reports once per block of lines, not per line, plain or gzip', async () => {
    const plain: number[] = [];
    await importLackey({ file: lackey, out: join(dir, 'lk.mst'), seed: 1, onProgress: (f) => plain.push(f) });
    expectRisingShares(plain, 1);
    expect(plain.length).toBeLessThanOrEqual(2);
    const gz = join(dir, 'lackey.txt.gz');
    writeFileSync(gz, gzipSync(readFileSync(lackey)));
    const gzipped: number[] = [];
    await importLackey({ file: gz, out: join(dir, 'lk-gz.mst'), seed: 1, onProgress: (f) => gzipped.push(f) });
    expectRisingShares(gzipped, 1);
    expect(gzipped.length).toBeLessThanOrEqual(2);
  });

  it('a terminal gets a bar on stderr, cleared before the result, and stdout stays clean', async () => {
    for (const [format, file] of [
      ['rtdirty', rtdirty],
      ['lackey', lackey],
    ] as const) {
      const r = await runCliAt('terminal', 'import', format, file, '-o', join(dir, `tty-${format}.mst`), '--seed', '1');
      expect(r.code).toBe(0);
      expect(r.err).toMatch(/^seed 1\n/);
      expect(r.err).toContain(`import ${format} [`);
      expect(r.err.endsWith(BAR_CLEARED)).toBe(true);
      expect(r.out).toMatch(new RegExp(`^imported ${format} `));
      expect(r.out).not.toContain(ESC);
    }
  });

  it('no bar with --json on a terminal, nor on a pipe (where the same import on a terminal draws one)', async () => {
    const args = ['import', 'rtdirty', rtdirty, '-o', join(dir, 'quiet.mst'), '--seed', '1'];
    expect((await runCliAt('terminal', ...args)).err).toContain('import rtdirty [');
    const json = await runCliAt('terminal', ...args, '--json');
    expect(json.code).toBe(0);
    expect(json.err).toBe('');
    expect(JSON.parse(json.out)).toMatchObject({ seed: 1 });
    const pipe = await runCliAt('pipe', ...args);
    expect(pipe.code).toBe(0);
    expect(pipe.err).toBe('seed 1\n');
  });
});
