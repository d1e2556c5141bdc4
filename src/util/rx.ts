/**
 * The part of RxJS migsim uses, imported module by module.
 *
 * Under Node, `import ... from 'rxjs'` resolves to RxJS's CommonJS index,
 * which requires every operator, scheduler and observable RxJS has (223
 * files) before the first line of a run: about a third of the start-up of
 * a short run (issue 16). Its `rxjs/internal/*` entries (listed in RxJS's
 * package exports, and the very files the index requires, so the classes
 * are the same ones whichever way a module imports them) load the 45 that
 * these need. The version is pinned in package.json: the internal layout
 * is RxJS 7.8's.
 */
export { Observable } from 'rxjs/internal/Observable';
export { Subject } from 'rxjs/internal/Subject';
export { Subscriber } from 'rxjs/internal/Subscriber';
export { from } from 'rxjs/internal/observable/from';
export { pipe } from 'rxjs/internal/util/pipe';
export { filter } from 'rxjs/internal/operators/filter';
export { map } from 'rxjs/internal/operators/map';
export { takeUntil } from 'rxjs/internal/operators/takeUntil';
export { takeWhile } from 'rxjs/internal/operators/takeWhile';
export { tap } from 'rxjs/internal/operators/tap';
export type { OperatorFunction } from 'rxjs/internal/types';
