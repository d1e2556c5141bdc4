// Checks the temporaries every write goes through: a name of their own per
// writer, opened exclusively; the owner told of each before it exists and
// when it is gone; those of processes that no longer run removed at the
// next write to the same file, and no one else's.
import { closeSync, existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { AtomicFile, writeFileAtomic } from '../../src/util/atomic-write.js';
import { createTemporary, liveTemporaries, removeLiveTemporaries, removeStaleTemporaries, removeTemporary, setTemporaryOwner } from '../../src/util/temporary-files.js';
import { tempDir } from '../helpers/temp-dir.js';

const dir = tempDir('migsim-temporaries-');

afterEach(() => setTemporaryOwner(undefined));

describe('temporary files', () => {
  it('a temporary of a process that no longer runs is removed at the next write to its file; those of running and unknown writers, and of other files, are kept', () => {
    const me = 1000;
    const running = 2000;
    const gone = 3000;
    setTemporaryOwner({ pid: me, isAlive: (pid) => pid === running });
    const target = join(dir, 'c.mst');
    const left = {
      gone: `${target}.${gone}.1.partial`,
      goneScratchOwn: `${target}.${gone}.2.partial.${gone}.3.partial`,
      earlierOfMyPid: `${target}.${me}.77.partial`,
      running: `${target}.${running}.1.partial`,
      unknown: `${target}.0.1.partial`,
      otherFile: join(dir, `d.mst.${gone}.1.partial`),
      notATemporary: `${target}.backup`,
    };
    for (const p of Object.values(left)) writeFileSync(p, 'x');
    writeFileAtomic(target, 'new');
    expect(existsSync(left.gone)).toBe(false);
    expect(existsSync(left.goneScratchOwn)).toBe(false);
    expect(existsSync(left.earlierOfMyPid)).toBe(false);
    for (const kept of [left.running, left.unknown, left.otherFile, left.notATemporary]) expect(existsSync(kept), kept).toBe(true);
  });

  it('with no owner (the library on its own) nothing is taken for stale, and the pid written is 0', () => {
    const target = join(dir, 'e.mst');
    writeFileSync(`${target}.3000.1.partial`, 'x');
    expect(removeStaleTemporaries(target)).toEqual([]);
    const f = new AtomicFile(target);
    expect(f.tmpPath).toMatch(/e\.mst\.0\.\d+\.partial$/);
    f.abort();
    expect(existsSync(`${target}.3000.1.partial`)).toBe(true);
  });

  it('a name already taken is skipped, never opened: each writer has a temporary of its own', () => {
    const target = join(dir, 'f.mst');
    const first = createTemporary(target);
    const n = Number(/\.(\d+)\.partial$/.exec(first.path)![1]);
    const taken = `${target}.0.${n + 1}.partial`;
    writeFileSync(taken, 'someone else');
    const second = createTemporary(target);
    expect(second.path).toBe(`${target}.0.${n + 2}.partial`);
    for (const t of [first, second]) {
      closeSync(t.fd);
      removeTemporary(t.path);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('f.mst'))).toEqual([`f.mst.0.${n + 1}.partial`]);
  });

  it('the owner is told of each temporary before it exists, and when it is renamed into place or removed', () => {
    const events: string[] = [];
    setTemporaryOwner({
      pid: 1000,
      isAlive: () => false,
      created: (p) => events.push(`created ${existsSync(p) ? 'after' : 'before'} it exists`),
      released: (p) => events.push(`released, ${existsSync(p) ? 'still there' : 'gone'}`),
    });
    writeFileAtomic(join(dir, 'g.txt'), 'committed');
    const f = new AtomicFile(join(dir, 'h.txt'));
    f.abort();
    expect(events).toEqual(['created before it exists', 'released, gone', 'created before it exists', 'released, gone']);
  });

  it('removeLiveTemporaries removes what this process still holds, and only that', () => {
    const a = new AtomicFile(join(dir, 'i.txt'));
    const b = new AtomicFile(join(dir, 'j.txt'));
    b.write(Buffer.from('done'));
    b.commit();
    expect(liveTemporaries()).toEqual([a.tmpPath]);
    expect(removeLiveTemporaries()).toEqual([a.tmpPath]);
    expect(existsSync(a.tmpPath)).toBe(false);
    expect(existsSync(join(dir, 'j.txt'))).toBe(true);
  });
});
