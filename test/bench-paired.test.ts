/**
 * The bench's paired ratio (bench/run.ts pairedRatio): run i of one builder against run i of the
 * other, so that a machine whose speed drifts between runs moves both sides of each pair alike.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { pairedRatio, type BuilderResult, type RunSample } from '../bench/run.js';

const run = (wall: number, status = 0): RunSample => ({ wall, user: 0, sys: 0, maxRssKiB: 0, imageBytes: 0, allocatedBytes: 0, status });
const builder = (name: string, walls: [number, number?][]): BuilderResult => ({ builder: name, samples: walls.map(([w, st]) => run(w, st)) });

test('paired ratio: the median of run-by-run ratios, steady where the medians are not', () => {
  // the machine slowed down by half for the last two pairs: each pair still says 0.25
  const ours = builder('repart-ts', [[1], [1], [1.5], [1.5]]);
  const ref = builder('systemd-repart', [[4], [4], [6], [6]]);
  assert.equal(pairedRatio(ours, ref), 0.25);
  // the ratio of medians mixes fast and slow runs: with three runs, the slow one on one side
  // and a fast one on the other are the medians (1.5 / 4 = 0.375); the pairs still say 0.25
  const ours3 = builder('repart-ts', [[1], [1.5], [1.5]]);
  const ref3 = builder('systemd-repart', [[4], [4], [6]]);
  assert.equal(pairedRatio(ours3, ref3), 0.25);
  assert.equal(pairedRatio(builder('a', [[1], [2]]), builder('b', [[4], [8]])), 0.25);
});

test('paired ratio: pairs with a failed run are left out; none left: undefined', () => {
  const ours = builder('repart-ts', [[1], [9, 1], [2]]);
  const ref = builder('systemd-repart', [[2], [2], [8]]);
  assert.equal(pairedRatio(ours, ref), (0.5 + 0.25) / 2);
  assert.equal(pairedRatio(builder('a', [[1, 1]]), builder('b', [[1]])), undefined);
  assert.equal(pairedRatio(builder('a', []), builder('b', [[1]])), undefined);
});
