/**
 * The toolstack side of a run: what asks the tracker for log-dirty
 * operations, at wall times of its own choosing, while the guest runs (a
 * fixed-interval round driver, or a migration policy). The simulation loop
 * hands it control whenever the guest's wall time reaches `nextActionNs`.
 */
export interface Driver {
  /** Wall time of the next thing the driver will do (Infinity when none). */
  readonly nextActionNs: number;
  /** Does what is due at `nextActionNs`. */
  act(): void;
  /** The guest has no more events; `wallNs` is the last wall time. */
  finish(wallNs: number): void;
}
