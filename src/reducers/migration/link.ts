/**
 * The wire between source and destination: how long bytes take on it. A
 * policy asks the link, never computes wire time itself, so a later fleet
 * can hand several guests' policies one shared link (DESIGN section 12)
 * without touching a policy.
 *
 * Time on the wire is rounded up to the nanosecond: a transfer is over only
 * once its last byte is (integer time, DESIGN section 4).
 */
export class Link {
  constructor(readonly bandwidthBytesPerSec: number) {}

  /** Wall time `bytes` take at `bytesPerSec` (default: the link's own rate). */
  wireNs(bytes: number, bytesPerSec: number = this.bandwidthBytesPerSec): number {
    return Math.ceil((bytes * 1e9) / bytesPerSec);
  }
}
