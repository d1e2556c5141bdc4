import { parseDurationNs } from '../model/units.js';

/**
 * Which stretch of wall time a report's timelines draw. A migration is
 * usually a short part of its run (a guest that ran 2.7 s before the
 * enable, migrated in 0.4 s), so the default is the migration itself, from
 * the enable to the resume (or to the last page post-copy pushed, or the
 * last Remus epoch), with a little of the run before and after; `all` is
 * the whole run from 0, and a range `T1..T2` any stretch of wall time.
 */
export type ReportWindow =
  | { readonly kind: 'migration' }
  | { readonly kind: 'all' }
  | { readonly kind: 'range'; readonly fromNs: number; readonly toNs: number };

export const MIGRATION_WINDOW: ReportWindow = { kind: 'migration' };

/** `--window`'s text: `migration`, `all`, or `T1..T2` in the CLI's time units (2.7s..3.2s). */
export function parseReportWindow(text: string): ReportWindow {
  if (text === 'migration' || text === 'all') return { kind: text };
  const m = /^(.+?)\.\.(.+)$/.exec(text);
  if (!m) throw new Error(`'${text}' is not a window: give migration, all, or T1..T2 (wall times such as 2.7s..3.2s)`);
  const fromNs = parseDurationNs(m[1]!.trim());
  const toNs = parseDurationNs(m[2]!.trim());
  if (!(toNs > fromNs)) throw new Error(`'${text}': the window must end after it starts`);
  return { kind: 'range', fromNs, toNs };
}

/** The window as the CLI writes it back (for the reproduce line). */
export function reportWindowArg(w: ReportWindow): string {
  return w.kind === 'range' ? `${w.fromNs}ns..${w.toNs}ns` : w.kind;
}

/**
 * The margin drawn before the enable and after the end of a migration
 * window: a twentieth of the migration's span, so the change at the enable
 * and the quiet after the resume show, while the migration fills nine
 * tenths of the picture. Before the enable the margin is at most what was
 * collected (collectionOriginNs): the span is known only at the end.
 */
export function migrationMarginNs(spanNs: number): number {
  return Math.max(Math.round(spanNs / 20), 1000);
}

/**
 * Where a run's timeline starts collecting, before its end is known. For
 * the migration window: the enable, less a margin guessed from the guest
 * time left after it (the migration's own span is known only at its end;
 * the drawing trims the margin to a twentieth of that span).
 */
export function collectionOriginNs(w: ReportWindow, startNs: number, guestDurationNs: number): number {
  if (w.kind === 'all') return 0;
  if (w.kind === 'range') return w.fromNs;
  return Math.max(0, startNs - migrationMarginNs(Math.max(guestDurationNs - startNs, 0)));
}
