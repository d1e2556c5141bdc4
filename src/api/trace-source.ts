import { statSync } from 'node:fs';
import { TraceError } from '../trace/trace-error.js';
import { TraceReader } from '../trace/trace-reader.js';
import type { GuestSource } from './guest-source.js';
import { readGuestBatches } from './read.js';

/** A trace file's guest events, read on each subscription; the header is read and checked now. */
export function traceSource(file: string): GuestSource {
  // A directory opens, and only its first read fails, with no path.
  if (statSync(file, { throwIfNoEntry: false })?.isDirectory()) throw new TraceError(file, 'is a directory, not a trace file');
  const reader = TraceReader.open(file);
  const header = reader.header;
  reader.close();
  return { header, label: file, events: () => readGuestBatches(file) };
}
