/**
 * src/tree/gc.ts (issue 18: peak RSS): the collection gives back the young generation's pages
 * (a plain gc() keeps them committed), and withoutYoungGrowth keeps V8 from growing it while
 * survivors pile up, then lets it grow again.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { getHeapSpaceStatistics } from 'node:v8';
import { collectGarbage, withoutYoungGrowth } from '../src/tree/gc.js';

const newSpace = (): number => getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')!.space_size;

/** Arrays that survive scavenges (as the per-directory arrays of a scan do): V8 grows the young generation for them. */
function survivors(mb: number): unknown[] {
  const keep: unknown[] = [];
  for (let i = 0; i < mb * 128; i++) keep.push(new Array<number>(1000).fill(i));
  return keep;
}

test('collectGarbage: the young generation grown by a scan is given back', async () => {
  let keep: unknown[] | null = survivors(40);
  const grown = newSpace();
  assert.ok(grown >= 8 << 20, `the young generation grew (${grown} bytes)`);
  keep = null;
  await collectGarbage();
  assert.equal(keep, null);
  assert.ok(newSpace() <= grown / 4, `young generation ${newSpace()} bytes after, ${grown} before`);
});

test('withoutYoungGrowth: no growth inside, growth again after', async () => {
  await collectGarbage();
  const start = newSpace();
  const inside = withoutYoungGrowth(() => {
    const keep = survivors(40);
    return { size: newSpace(), n: keep.length };
  });
  assert.equal(inside.n, 40 * 128);
  // (V8 may still take it back to its initial size, a MB or two; not to the 2 x 16 MB of a scan)
  assert.ok(inside.size <= Math.max(start, 4 << 20), `young generation ${inside.size} bytes inside, ${start} before`);
  const keep = survivors(40);
  assert.ok(keep.length > 0 && newSpace() >= 8 << 20, `V8 grows it again afterwards (the default growth factor is back): ${newSpace()} bytes`);
});
