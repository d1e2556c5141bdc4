// Import is deterministic: the same capture and seed give the same bytes,
// whichever way the file is read (gzip or not, synchronously or not).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { importLackey, importLackeySync } from '../../src/import/lackey-importer.js';
import { importRtdirty, importRtdirtySync } from '../../src/import/rtdirty-importer.js';
import { tempDir } from '../helpers/temp-dir.js';
import { sample } from './import-helpers.js';

const dir = tempDir('migsim-import-det-');
const MEM = 64 * 1024 * 1024;

describe('import determinism', () => {
  it('rtdirty: the same file and seed give byte-identical traces', async () => {
    const file = sample('known_writer_50ms.trace');
    const a = join(dir, 'a.mst');
    const b = join(dir, 'b.mst');
    await importRtdirty({ file, out: a, seed: 42, memBytes: MEM });
    importRtdirtySync({ file, out: b, seed: 42, memBytes: MEM });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
  });

  it('rtdirty: another seed writes the same pages in another order', async () => {
    const file = sample('known_writer_50ms.trace');
    const x = await importRtdirty({ file, out: join(dir, 'x.mst'), seed: 1, memBytes: MEM });
    const y = await importRtdirty({ file, out: join(dir, 'y.mst'), seed: 2, memBytes: MEM });
    expect(x.footer.digest).not.toBe(y.footer.digest);
    expect(x.footer.guestEventsByKind).toEqual(y.footer.guestEventsByKind);
    expect(x.footer.workloadStats['pagesWritten']).toBe(y.footer.workloadStats['pagesWritten']);
  });

  it('lackey: the same file and seed give byte-identical traces, gzip or not', async () => {
    const file = sample('lackey_gzip_excerpt.txt');
    const gz = join(dir, 'excerpt.gz');
    writeFileSync(gz, gzipSync(readFileSync(file)));
    const a = join(dir, 'la.mst');
    const b = join(dir, 'lb.mst');
    await importLackey({ file, out: a, seed: 5, memBytes: MEM });
    importLackeySync({ file, out: b, seed: 5, memBytes: MEM });
    expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    const z = await importLackey({ file: gz, out: join(dir, 'lz.mst'), seed: 5, memBytes: MEM });
    const plain = await importLackey({ file, out: join(dir, 'lp.mst'), seed: 5, memBytes: MEM });
    expect(z.footer.digest).toBe(plain.footer.digest);
  });

  it('the source hashed (and its length counted) by a worker thread gives the same bytes as inline', async () => {
    const lackey = sample('lackey_gzip_excerpt.txt');
    const gz = join(dir, 'excerpt2.gz');
    writeFileSync(gz, gzipSync(readFileSync(lackey)));
    for (const file of [lackey, gz]) {
      const a = join(dir, 'inline.mst');
      const b = join(dir, 'worker.mst');
      await importLackey({ file, out: a, seed: 5, memBytes: MEM, digest: 'inline' });
      await importLackey({ file, out: b, seed: 5, memBytes: MEM, digest: 'worker' });
      expect(readFileSync(a).equals(readFileSync(b))).toBe(true);
    }
    const c = join(dir, 'sync-worker.mst');
    importLackeySync({ file: lackey, out: c, seed: 5, memBytes: MEM, digest: 'worker' });
    await importLackey({ file: lackey, out: join(dir, 'inline.mst'), seed: 5, memBytes: MEM, digest: 'inline' });
    expect(readFileSync(c).equals(readFileSync(join(dir, 'inline.mst')))).toBe(true);
    const rt = sample('known_writer_50ms.trace');
    await importRtdirty({ file: rt, out: join(dir, 'rt-inline.mst'), seed: 5, memBytes: MEM, digest: 'inline' });
    await importRtdirty({ file: rt, out: join(dir, 'rt-worker.mst'), seed: 5, memBytes: MEM, digest: 'worker' });
    expect(readFileSync(join(dir, 'rt-inline.mst')).equals(readFileSync(join(dir, 'rt-worker.mst')))).toBe(true);
  });
});
