/**
 * Number fields that will hold nanoseconds (or anything past 2^31) start
 * as doubles. V8 gives an object field the representation of the first
 * value stored in it: a 0 makes it a small-integer field, and when a time
 * later passes 2^31 ns (2.1 s of guest time) the field is widened to a
 * double field, which V8 cannot do in place: it replaces the objects' map,
 * and every function optimised for the old one deoptimises ("wrong map")
 * and is compiled again. In a 10 s apache run that happened in the middle
 * of the first run of every thread, to the generator's builders and the
 * simulator's loops alike (seen with node --trace-deopt and
 * --trace-generalization).
 *
 * A class gives such a field DOUBLE_FIRST as its initial value and then,
 * in its constructor, the value it means (0): the field is a double field
 * from the first object on, and the value is unchanged. An object literal
 * type (GuestBatch, RunBatch) is seeded once per thread, as its module
 * loads, by making one object of it with DOUBLE_FIRST in its time fields:
 * V8 gives every object literal with the same keys in the same order the
 * same maps, whichever line makes it.
 */
export const DOUBLE_FIRST = 0.5;
