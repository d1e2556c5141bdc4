// A writer that finds, just after its rename, that another writer's rename
// replaced the file says so (FileReplacedError) instead of claiming a
// result the file does not hold; the file is still one whole file.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../helpers/temp-dir.js';

// The other writer's rename lands between this writer's rename and its
// check: the one moment no test can time, so the rename is wrapped.
const between = vi.hoisted(() => ({ hook: undefined as undefined | ((target: string) => void) }));
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  return {
    ...fs,
    renameSync: (from: string, to: string) => {
      fs.renameSync(from, to);
      const hook = between.hook;
      between.hook = undefined;
      hook?.(to);
    },
  };
});

const { FileReplacedError, writeFileAtomic } = await import('../../src/util/atomic-write.js');
const fs = await vi.importActual<typeof import('node:fs')>('node:fs');
const dir = tempDir('migsim-replaced-');

describe('a file replaced by another writer', () => {
  it('the writer whose file was replaced at once throws FileReplacedError naming it; the file is the other whole file', () => {
    const path = join(dir, 'c.txt');
    between.hook = (target) => {
      writeFileSync(`${target}.other`, 'the other writer, complete');
      fs.renameSync(`${target}.other`, target);
    };
    expect(() => writeFileAtomic(path, 'this writer')).toThrow(FileReplacedError);
    expect(readFileSync(path, 'utf8')).toBe('the other writer, complete');
  });

  it('with no other writer in between, the same write succeeds', () => {
    const path = join(dir, 'd.txt');
    writeFileAtomic(path, 'alone');
    expect(readFileSync(path, 'utf8')).toBe('alone');
  });
});
