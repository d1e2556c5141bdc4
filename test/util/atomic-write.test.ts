// Checks the one atomic-write helper every written file goes through: the
// file appears whole or not at all, an abandoned or failed write leaves the
// earlier file as it was and no temporary behind.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AtomicFile, writeFileAtomic } from '../../src/util/atomic-write.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('migsim-atomic-');

describe('atomic writes', () => {
  it('a file written in pieces appears only on commit, with every byte', () => {
    const path = join(dir, 'pieces.bin');
    const f = new AtomicFile(path);
    f.write(new Uint8Array([1, 2, 3]));
    f.write(Buffer.from('abc'));
    expect(existsSync(path)).toBe(false);
    expect(existsSync(`${path}.partial`)).toBe(true);
    expect(f.bytesWritten).toBe(6);
    f.commit();
    expect([...readFileSync(path)]).toEqual([1, 2, 3, 0x61, 0x62, 0x63]);
    expect(existsSync(`${path}.partial`)).toBe(false);
    expect(f.isOpen).toBe(false);
  });

  it('an aborted write removes its temporary and keeps the earlier file; abort after commit does nothing', () => {
    const path = join(dir, 'keep.txt');
    writeFileSync(path, 'earlier');
    const f = new AtomicFile(path);
    f.write(Buffer.from('half'));
    f.abort();
    f.abort();
    expect(readFileSync(path, 'utf8')).toBe('earlier');
    expect(existsSync(`${path}.partial`)).toBe(false);
    expect(() => f.write(Buffer.from('more'))).toThrow('written after it was closed');

    const g = new AtomicFile(path);
    g.write(Buffer.from('later'));
    g.commit();
    g.abort();
    expect(readFileSync(path, 'utf8')).toBe('later');
  });

  it('writeFileAtomic replaces a file with a string as UTF-8', () => {
    const path = join(dir, 'text.txt');
    writeFileSync(path, 'old');
    writeFileAtomic(path, 'new: café\n');
    expect(readFileSync(path, 'utf8')).toBe('new: café\n');
    expect(readdirSync(dir).filter((f) => f.endsWith('.partial'))).toEqual([]);
  });

  it('a rename that fails (the target is a directory) leaves no temporary and the target as it was', () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    expect(() => writeFileAtomic(path, 'x')).toThrow();
    expect(existsSync(`${path}.partial`)).toBe(false);
    expect(readdirSync(path)).toEqual([]);
  });
});
