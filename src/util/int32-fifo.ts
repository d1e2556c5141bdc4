/** A first-in first-out queue of 32-bit integers in a fixed ring: nothing allocated per push or shift. */
export class Int32Fifo {
  private readonly ring: Int32Array;
  private head = 0;
  private count = 0;

  /** `what` names the queue in the error a push into a full one throws (a bug: callers size it). */
  constructor(
    capacity: number,
    private readonly what: string,
  ) {
    this.ring = new Int32Array(capacity);
  }

  get size(): number {
    return this.count;
  }

  push(value: number): void {
    const capacity = this.ring.length;
    if (this.count === capacity) throw new Error(`${this.what} overflow (${capacity} entries)`);
    this.ring[(this.head + this.count) % capacity] = value;
    this.count++;
  }

  /** The oldest value, removed; the queue must not be empty. */
  shift(): number {
    if (this.count === 0) throw new Error(`${this.what}: shift from an empty queue`);
    const value = this.ring[this.head]!;
    this.head = (this.head + 1) % this.ring.length;
    this.count--;
    return value;
  }
}
