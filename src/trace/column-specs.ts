import type { ColumnSpec } from './column-codec.js';

/**
 * The columns of each stream a trace chunk can hold, in their fixed order
 * (the order of hashing). Pages drift, so they are delta-coded; times are
 * already deltas. The kind comes first: a column predicted by kind
 * (packed-codec.ts `residuals`) is decoded after it. Pages, args and PTEs follow the
 * previous event of their kind (the next frame, the next entry of a table,
 * the same store size); kinds, times and vCPUs repeat as values, and so
 * do apache's pages (the same requests touch the same addresses), which
 * the encoder finds by trying both.
 */
export const GUEST_COLUMN_SPECS: readonly ColumnSpec[] = [
  { name: 'kind', type: 'u8', delta: false, predict: ['raw'] },
  { name: 'dtNs', type: 'u32', delta: false, predict: ['raw'] },
  { name: 'vcpu', type: 'u16', delta: false, predict: ['raw'] },
  { name: 'page', type: 'i32', delta: true, predict: ['kind', 'raw'] },
  { name: 'arg', type: 'i32', delta: false, predict: ['kind'] },
  { name: 'pte', type: 'i32', delta: false, predict: ['kind'] },
];

export const RUN_COLUMN_SPECS: readonly ColumnSpec[] = [
  { name: 'kind', type: 'u8', delta: false, predict: ['raw'] },
  { name: 'dtNs', type: 'u32', delta: false, predict: ['raw'] },
  { name: 'vcpu', type: 'u16', delta: false, predict: ['raw'] },
  { name: 'page', type: 'i32', delta: true, predict: ['kind', 'raw'] },
  { name: 'arg', type: 'i32', delta: false, predict: ['kind'] },
  { name: 'costNs', type: 'u32', delta: false, predict: ['raw'] },
];

export type TraceStream = 'guest' | 'run';
