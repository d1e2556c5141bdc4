/**
 * The names of a trace column's encodings (src/trace/column-codec.ts says
 * what each is). A module of its own, apart from the codecs: `record`'s
 * options list the names, and every command registers those options at
 * start, so the codecs (Zstandard's decoder among them) would otherwise
 * load for `migsim --help` and for runs that read no trace (issue 16).
 */
export type ColumnEncoding = 'fast' | 'varint' | 'compact';
export const COLUMN_ENCODINGS: readonly ColumnEncoding[] = ['fast', 'varint', 'compact'];
export const DEFAULT_ENCODING: ColumnEncoding = 'compact';
