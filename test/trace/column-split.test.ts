// Checks the rule that shares a chunk's columns between the read-ahead
// thread and the reader (src/trace/column-split.ts): the thread starts with
// every column, gives the reader a quarter column for each chunk the reader
// waited for and takes a quarter back for each it had to wait to post, in
// whole columns, never fewer than one nor more than the chunk has.
import { describe, expect, it } from 'vitest';
import { ColumnSplit } from '../../src/trace/column-split.js';

describe('ColumnSplit', () => {
  it('starts with every column on the thread', () => {
    expect(new ColumnSplit(6).decodeAhead).toBe(6);
  });

  it('a reader that keeps waiting takes a column every four chunks, down to one left on the thread', () => {
    const s = new ColumnSplit(6);
    const seen: number[] = [];
    for (let k = 0; k < 24; k++) {
      s.posted(true, false);
      seen.push(s.decodeAhead);
    }
    // 6 - 0.25 k, rounded (halves up), never below 1.
    expect(seen.slice(0, 8)).toEqual([6, 6, 5, 5, 5, 5, 4, 4]);
    expect(seen.at(-1)).toBe(1);
  });

  it('a thread that waits for room (a reader busy with its own work) takes the columns back, up to all of them', () => {
    const s = new ColumnSplit(6);
    for (let k = 0; k < 12; k++) s.posted(true, false);
    expect(s.decodeAhead).toBe(3);
    for (let k = 0; k < 40; k++) s.posted(false, true);
    expect(s.decodeAhead).toBe(6);
  });

  it('a chunk neither waited for moves nothing; a thread that waited for room outweighs a reader that waited', () => {
    const s = new ColumnSplit(6);
    for (let k = 0; k < 8; k++) s.posted(true, false);
    const at = s.decodeAhead;
    for (let k = 0; k < 10; k++) s.posted(false, false);
    expect(s.decodeAhead).toBe(at);
    for (let k = 0; k < 4; k++) s.posted(true, true);
    expect(s.decodeAhead).toBe(at + 1);
  });
});
