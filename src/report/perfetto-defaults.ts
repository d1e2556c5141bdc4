/**
 * How many exits of each vCPU the Perfetto export draws as slices before it
 * only counts them: a viewer holds about this many per track comfortably.
 * Its own file so that `export --help` shows it without loading the export.
 */
export const DEFAULT_MAX_EXIT_SLICES_PER_VCPU = 10_000;
