import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatUuid, parseUuid } from '../src/gpt/guid.js';
import { resolveTypeName } from '../src/gpt/types.js';
import { deriveUuid, derivePartitionUuid, hmac } from '../src/plan/ids.js';
import { allocate, scaleByWeight } from '../src/plan/allocate.js';
import { RepartError } from '../src/errors.js';

const SEED = parseUuid('e2a40bf9-73f1-4278-9160-49c031e7aef8')!;
const M = 1024n * 1024n;

test('UUID derivation matches the spec §4.3 vectors', () => {
  const part = (t: string, k: number) => formatUuid(derivePartitionUuid(SEED, resolveTypeName(t, 'x86-64')!.uuid, k));
  assert.equal(formatUuid(deriveUuid(SEED, 'disk-uuid')), 'ef7f7ee2-47b3-4251-b1a1-09ea8bf12d5d');
  assert.equal(part('esp', 0), '34cf7fec-8be1-486f-8bd9-614094ea5c3d');
  assert.equal(part('root', 0), 'ce9c76eb-a8f1-40ff-813c-11dca6c0a55b');
  assert.equal(part('root', 1), 'ac60a837-550c-43bd-b5c4-9cb73b884e79');
  assert.equal(part('home', 0), 'a6005774-f558-4330-a8e5-d6d2c01c01d6');
  assert.equal(part('root-arm64', 1), '1910186b-e313-401c-a566-a5fddc29221b');
  assert.equal(part('linux-generic', 1), 'cfbc0c3f-c492-42ea-abb2-3a3a6a35f165');
  assert.equal(part('12345678-1234-1234-1234-123456789abc', 0), '4b47212e-f7f7-4fbd-bc04-74e11f2d0271');
  assert.equal(formatUuid(deriveUuid(parseUuid('ce9c76eb-a8f1-40ff-813c-11dca6c0a55b')!, 'file-system-uuid')), '2f552d51-0e30-4275-9686-30acc38cd88c');
  assert.equal(formatUuid(deriveUuid(parseUuid('a6005774-f558-4330-a8e5-d6d2c01c01d6')!, 'file-system-uuid')), '5cb78852-1bf3-420e-b369-f5ac61be444f');
  assert.equal(formatUuid(deriveUuid(SEED, 'verity-uuid')), 'ae9578dc-39f1-4c39-9498-f6d9311960d4');
  assert.equal(Buffer.from(hmac(SEED, 'verity-salt')).toString('hex'), '64677cd9b5340bcbb7f73ecb0cb03db408f8a5ac6a6e5e810f6a7754f052c952');
});

test('scale_by_weight: exact, and its overflow rescaling', () => {
  assert.equal(scaleByWeight(938389504n, 1000n, 5500n), 170616273n);
  assert.equal(scaleByWeight(100n, 0n, 0n), 0n);
  assert.equal(scaleByWeight(100n, 7n, 7n), 100n);
  const big = (1n << 63n) + 12345n;
  // value*weight overflows u64: weight halves (floor), sum halves (ceil) until it fits.
  assert.equal(scaleByWeight(big, 3n, 7n), (big * 1n) / 4n);
});

test('allocation: spec §3.7 worked example', () => {
  const item = (o: Partial<Parameters<typeof allocate>[0][0]>) => ({ minSize: 10n * M, maxSize: null, minPadding: 0n, maxPadding: null, weight: 1000, paddingWeight: 0, priority: 0, file: 'x', ...o });
  const r = allocate([
    item({}),
    item({ weight: 2000, maxSize: 100n * M, paddingWeight: 500 }),
    item({ weight: 3000 }),
    item({ minSize: 65536n, maxSize: 65536n }),
    item({ minSize: 8n * M, maxSize: 8n * M }),
    item({}),
    item({ minSize: 20n * M, maxSize: 20n * M }),
  ], 1048576n, 1073721344n, 4096n, 262);
  assert.deepEqual(r.placed.map((p) => [p!.offset, p!.size, p!.padding]), [
    [1048576n, 170614784n, 0n], [171663360n, 104857600n, 85307392n], [361828352n, 511848448n, 0n],
    [873676800n, 65536n, 0n], [873742336n, 8388608n, 0n], [882130944n, 170618880n, 0n], [1052749824n, 20971520n, 0n],
  ]);
});

test('allocation: drops by priority, refuses when nothing positive is left', () => {
  const item = (min: bigint, priority: number) => ({ minSize: min, maxSize: null, minPadding: 0n, maxPadding: null, weight: 1000, paddingWeight: 0, priority, file: 'x' });
  const r = allocate([item(40n * M, 0), item(40n * M, 10), item(30n * M, 5)], 0n, 80n * M, 4096n, 262);
  assert.equal(r.placed[1], null);
  assert.notEqual(r.placed[2], null);
  assert.throws(() => allocate([item(90n * M, 0)], 0n, 80n * M, 4096n, 262), (e: unknown) => e instanceof RepartError && e.code === 'E_NO_SPACE' && /10M/.test(e.message));
});
