import type { ColumnSpec } from './column-codec.js';

/**
 * The columns of each stream a trace chunk can hold, in their fixed order
 * (the order of hashing). Pages drift, so they are delta-coded; times are
 * already deltas.
 */
export const GUEST_COLUMN_SPECS: readonly ColumnSpec[] = [
  { name: 'kind', type: 'u8', delta: false },
  { name: 'dtNs', type: 'u32', delta: false },
  { name: 'vcpu', type: 'u16', delta: false },
  { name: 'page', type: 'i32', delta: true },
  { name: 'arg', type: 'i32', delta: false },
  { name: 'pte', type: 'i32', delta: false },
];

export const RUN_COLUMN_SPECS: readonly ColumnSpec[] = [
  { name: 'kind', type: 'u8', delta: false },
  { name: 'dtNs', type: 'u32', delta: false },
  { name: 'vcpu', type: 'u16', delta: false },
  { name: 'page', type: 'i32', delta: true },
  { name: 'arg', type: 'i32', delta: false },
  { name: 'costNs', type: 'u32', delta: false },
];

export type TraceStream = 'guest' | 'run';
