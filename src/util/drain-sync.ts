import { type Observable, Subject, takeUntil } from './rx.js';

/**
 * Subscribes to a synchronous source and feeds every emission to `next`,
 * then returns; an error from the source or from `next` is thrown here.
 *
 * RxJS 7 reports an exception thrown inside `next` asynchronously instead
 * of to the caller, and would keep the producer running; this stops the
 * source at the first failure and rethrows it where the caller can see it.
 */
export function drainSync<T>(source: Observable<T>, next: (value: T) => void): void {
  const stop = new Subject<void>();
  let failure: { error: unknown } | undefined;
  let completed = false;
  source.pipe(takeUntil(stop)).subscribe({
    next(value) {
      if (failure) return;
      try {
        next(value);
      } catch (error) {
        failure = { error };
        stop.next();
      }
    },
    error(error) {
      failure ??= { error };
    },
    complete() {
      completed = true;
    },
  });
  if (failure) throw failure.error;
  if (!completed) throw new Error('drainSync: the source did not complete synchronously');
}
