import type { Observable } from './rx.js';

/**
 * Subscribes to a synchronous source and returns its last value; an error
 * from the source is thrown here. For the pipes of a run, which complete
 * before `subscribe` returns: the API's functions stay synchronous.
 */
export function lastValueSync<T>(source: Observable<T>): T {
  let last: { value: T } | undefined;
  let failure: { error: unknown } | undefined;
  let completed = false;
  source.subscribe({
    next: (value) => (last = { value }),
    error: (error) => (failure = { error }),
    complete: () => (completed = true),
  });
  if (failure) throw failure.error;
  if (!completed) throw new Error('lastValueSync: the source did not complete synchronously');
  if (!last) throw new Error('lastValueSync: the source completed without a value');
  return last.value;
}
