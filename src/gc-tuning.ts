import { setFlagsFromString } from 'node:v8';

/**
 * V8 allocates objects from an allocation site straight into the old generation once
 * most of that site's objects have been seen to survive a scavenge (pretenuring). The
 * hot path's objects are short-lived, but with the key cache off and 50 calls in flight
 * the sites where `pg` parses the key queries' rows were pretenured: the rows became
 * garbage in the old generation, each scavenge also had to scan the old objects that
 * pointed at new ones, and the old generation filled until a full collection.
 *
 * Measured with the key cache off, 40,000 introspections at 50 connections: 103 MB of
 * objects reached the old generation with pretenuring, 11 MB without; scavenges took
 * 523 to 584 ms in all with it, 217 to 244 ms without, and one full collection fewer;
 * the collector's helper threads used 19 to 20 µs of CPU per call with it, 7 to 8
 * without; the process used 239 to 251 µs of CPU per call with it, 209 to 222 without.
 * With the cache on nothing was pretenured either way (7.6 scavenges per 10,000 calls
 * and the same CPU per call).
 *
 * Set before anything else is loaded (see main.ts), so no site is decided before it.
 */
setFlagsFromString('--no-allocation-site-pretenuring');
