// The streaming reader under the importers: whole lines whatever the read
// size, gzip told by its magic bytes, a last line without newline, a bound
// on line length, and the source digest, inline or in a worker thread.
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { GuestVpnMap, VpnSpaceFullError, vpnMapGeometry } from '../../src/import/guest-vpn-map.js';
import { CaptureDecodeError, isGzipFile, lineBlocks, lineBlocksSync, LineSplitter, LineTooLongError } from '../../src/import/line-reader.js';
import { SourceDigest } from '../../src/import/source-digest.js';
import { tempDir } from '../helpers/temp-dir.js';
import { sample } from './import-helpers.js';

const dir = tempDir('migsim-lines-');

async function linesOf(file: string, readBytes: number): Promise<string[]> {
  const lines: string[] = [];
  const split = new LineSplitter((buf, start, end) => lines.push(buf.toString('utf8', start, end)));
  for await (const block of lineBlocks(file, { readBytes })) {
    expect(block[block.length - 1]).toBe(10);
    split.push(block);
  }
  return lines;
}

describe('line reader', () => {
  const text = 'first\r\nsecond line\n\nfourth, no newline';
  const plain = join(dir, 'plain.txt');
  writeFileSync(plain, text);
  const gz = join(dir, 'compressed.txt');
  writeFileSync(gz, gzipSync(Buffer.from(text)));

  it('yields whole lines whatever the read size, gzip or not, a last line without newline included', async () => {
    const want = ['first', 'second line', '', 'fourth, no newline'];
    for (const readBytes of [1, 3, 7, 1 << 20]) {
      expect(await linesOf(plain, readBytes)).toEqual(want);
      expect(await linesOf(gz, readBytes)).toEqual(want);
    }
    const sync: string[] = [];
    const split = new LineSplitter((buf, s, e) => sync.push(buf.toString('utf8', s, e)));
    for (const b of lineBlocksSync(plain, { readBytes: 5 })) split.push(b);
    expect(sync).toEqual(want);
  });

  it('tells gzip by its magic bytes, not by its name', () => {
    expect(isGzipFile(gz)).toBe(true);
    expect(isGzipFile(plain)).toBe(false);
    expect(() => [...lineBlocksSync(gz)]).toThrow(CaptureDecodeError);
  });

  it('a damaged gzip stream is a CaptureDecodeError', async () => {
    const bad = join(dir, 'truncated.gz');
    const z = gzipSync(readFileSync(sample('known_writer_50ms.trace')));
    writeFileSync(bad, z.subarray(0, z.length >> 1));
    await expect(linesOf(bad, 4096)).rejects.toThrow(CaptureDecodeError);
  });

  it('a line longer than the bound stops the read instead of filling memory', async () => {
    const long = join(dir, 'long.txt');
    writeFileSync(long, 'short\n' + 'x'.repeat(5000) + '\nend\n');
    await expect(async () => {
      for await (const b of lineBlocks(long, { readBytes: 512, maxLineBytes: 4096 })) void b;
    }).rejects.toThrow(LineTooLongError);
  });

  it('the source digest is the sha256 of the file as stored, inline or from a worker thread', () => {
    const file = sample('python_boot_10ms.trace');
    const want = createHash('sha256').update(readFileSync(file)).digest('hex');
    const inline = new SourceDigest(file, { mode: 'inline' });
    for (const b of lineBlocksSync(file, { onRawBytes: inline.update })) void b;
    expect(inline.hex()).toBe(want);
    expect(new SourceDigest(file, { mode: 'worker' }).hex()).toBe(want);
  });
});

describe('guest vpn map', () => {
  it('keeps 2 MiB regions whole and packs them, in order of first appearance, per source GiB', () => {
    const map = new GuestVpnMap(vpnMapGeometry('x86-64'));
    const heap = 0x564a584e9; // 0x564a584e9000
    const lib = 0x7faaf6400;
    const stack = 0x7fff1b728;
    const g = [heap, heap + 1, lib, lib + 600, stack, heap + 512].map((p) => map.map(p));
    // First GiB of guest user space is left free; the heap's GiB is the next.
    expect(g[0]).toBe((1 << 18) + (heap & 511));
    expect(g[1]).toBe(g[0]! + 1);
    // A new source GiB takes the next guest GiB; a region keeps its page offsets.
    expect(g[2]).toBe(2 << 18);
    expect(g[3]).toBe((2 << 18) + 512 + (600 - 512));
    expect(g[4]! >> 18).toBe(3);
    // The heap's next 2 MiB region is the next slot of the heap's guest GiB.
    expect(g[5]).toBe((1 << 18) + 512 + (heap & 511));
    expect(map.blocks).toBe(5);
  });

  it('a PAE guest folds further GiBs into free slots, and says so when user space is full', () => {
    const map = new GuestVpnMap(vpnMapGeometry('pae'));
    for (let gib = 0; gib < 4; gib++) map.map(gib * (1 << 18) + 0x7f0000000);
    // The fourth source GiB lands in the first guest GiB's next free slot.
    expect(map.peek(3 * (1 << 18) + 0x7f0000000)).toBe(512);
    expect(() => {
      for (let i = 0; i < 3 * 512; i++) map.map(0x100000000 + i * 512);
    }).toThrow(VpnSpaceFullError);
  });
});
