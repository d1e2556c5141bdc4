import { Observable, type OperatorFunction, Subscriber } from './rx.js';

/** What an operator does with each value of its source, and at its end. */
export interface OperatorSteps<T> {
  next(value: T): void;
  complete?(): void;
}

/**
 * An RxJS operator written as RxJS writes its own (STYLE: a pipeline is
 * operators): `init` runs once per subscription with the destination and
 * returns what to do per value and at completion. The operator's
 * subscriber to its source is linked to the destination, so a consumer
 * that stops early (takeWhile) stops the source too, and an exception in a
 * step becomes an error notification instead of escaping RxJS
 * asynchronously.
 */
export function operator<T, R>(init: (destination: Subscriber<R>) => OperatorSteps<T>): OperatorFunction<T, R> {
  return (source) =>
    new Observable<R>((destination) => {
      source.subscribe(new LinkedSubscriber(destination, init(destination)));
    });
}

class LinkedSubscriber<T, R> extends Subscriber<T> {
  constructor(
    private readonly out: Subscriber<R>,
    private readonly steps: OperatorSteps<T>,
  ) {
    // Subscriber's constructor adds this subscriber to `out`: when `out`
    // closes, so does this, and a synchronous source sees it.
    super(out);
  }

  protected override _next(value: T): void {
    try {
      this.steps.next(value);
    } catch (e) {
      this.out.error(e);
    }
  }

  protected override _complete(): void {
    try {
      this.steps.complete?.();
      this.out.complete();
    } catch (e) {
      this.out.error(e);
    } finally {
      this.unsubscribe();
    }
  }
}
