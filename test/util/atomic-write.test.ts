// Checks the one atomic-write helper every written file goes through: the
// file appears whole or not at all, from a temporary of the writer's own;
// an abandoned or failed write leaves the earlier file as it was and no
// temporary behind; errors name the file asked for.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { AtomicFile, writeFileAtomic } from '../../src/util/atomic-write.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('migsim-atomic-');
const temporariesIn = (d: string) => readdirSync(d).filter((f) => f.endsWith('.partial'));

describe('atomic writes', () => {
  it('a file written in pieces appears only on commit, with every byte, from a temporary named FILE.<pid>.<n>.partial', () => {
    const path = join(dir, 'pieces.bin');
    const f = new AtomicFile(path);
    f.write(new Uint8Array([1, 2, 3]));
    f.write(Buffer.from('abc'));
    expect(existsSync(path)).toBe(false);
    expect(f.tmpPath).toMatch(/pieces\.bin\.\d+\.\d+\.partial$/);
    expect(existsSync(f.tmpPath)).toBe(true);
    expect(f.bytesWritten).toBe(6);
    f.commit();
    expect([...readFileSync(path)]).toEqual([1, 2, 3, 0x61, 0x62, 0x63]);
    expect(existsSync(f.tmpPath)).toBe(false);
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
    expect(existsSync(f.tmpPath)).toBe(false);
    expect(() => f.write(Buffer.from('more'))).toThrow('written after it was closed');

    const g = new AtomicFile(path);
    g.write(Buffer.from('later'));
    g.commit();
    g.abort();
    expect(readFileSync(path, 'utf8')).toBe('later');
  });

  it('two writers to one file never share a temporary: the file is whole, the one committed last', () => {
    const path = join(dir, 'two.txt');
    const a = new AtomicFile(path);
    const b = new AtomicFile(path);
    expect(a.tmpPath).not.toBe(b.tmpPath);
    a.write(Buffer.from('A'.repeat(1000)));
    b.write(Buffer.from('B'.repeat(10)));
    b.commit();
    a.write(Buffer.from('A'.repeat(1000)));
    expect(readFileSync(path, 'utf8')).toBe('B'.repeat(10));
    a.commit();
    expect(readFileSync(path, 'utf8')).toBe('A'.repeat(2000));
    expect(temporariesIn(dir)).toEqual([]);
  });

  it('writeFileAtomic replaces a file with a string as UTF-8', () => {
    const path = join(dir, 'text.txt');
    writeFileSync(path, 'old');
    writeFileAtomic(path, 'new: café\n');
    expect(readFileSync(path, 'utf8')).toBe('new: café\n');
    expect(temporariesIn(dir)).toEqual([]);
  });

  it('a target that is a directory fails before anything is written, naming it, and leaves no temporary', () => {
    const path = join(dir, 'a-directory');
    mkdirSync(path);
    expect(() => new AtomicFile(path)).toThrow(expect.objectContaining({ code: 'EISDIR', path, syscall: 'write' }));
    expect(() => writeFileAtomic(path, 'x')).toThrow();
    expect(temporariesIn(dir)).toEqual([]);
    expect(readdirSync(path)).toEqual([]);
  });

  it('a target in a directory that does not exist fails naming the target, not its temporary', () => {
    const path = join(dir, 'no-such-dir', 'f.txt');
    expect(() => writeFileAtomic(path, 'x')).toThrow(expect.objectContaining({ code: 'ENOENT', path, syscall: 'write' }));
  });
});
