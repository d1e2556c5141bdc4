import { Tracker } from './tracker.js';

/**
 * The guest after it has resumed on the destination host: no log-dirty, no
 * tracking, nothing charged. The oracle and MMU keep following its events.
 */
export class DestinationTracker extends Tracker {
  readonly name = 'direct' as const;

  protected onWrite(): void {}
  protected onClean(): void {}
  protected onEnable(): void {}
  protected onOff(): void {}
}
