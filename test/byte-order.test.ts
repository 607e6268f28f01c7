/**
 * byteOrder (src/tree/model.ts) is the C tools' strcmp order of UTF-8 names, whether the fast
 * path (JavaScript's code unit sort) or the Buffer comparison decides it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { byteOrder } from '../src/tree/model.js';

const strcmpOrder = (names: string[]) => names.map((n) => [n, Buffer.from(n, 'utf8')] as const).sort((a, b) => Buffer.compare(a[1], b[1])).map((e) => e[0]);

test('byteOrder sorts as strcmp over UTF-8 bytes, surrogates and characters past U+E000 included', () => {
  assert.deepEqual(byteOrder(['b', 'a', 'B', '~', '0']), ['0', 'B', 'a', 'b', '~']);
  // code unit order would put U+FFFF after the surrogate pair of U+1F600; UTF-8 puts it before
  assert.deepEqual(byteOrder(['😀', '\uffff', 'é']), ['é', '\uffff', '😀']);
  const chars = ['a', 'B', '~', 'é', '\u00ff', '\u0100', '\ud7ff', '\ue000', '\uffff', '😀', '𝄞', 'z', '0', ' '];
  let seed = 7;
  const rnd = (n: number) => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed % n; };
  for (let i = 0; i < 5000; i++) {
    const names = [...new Set(Array.from({ length: 1 + rnd(6) }, () => Array.from({ length: 1 + rnd(3) }, () => chars[rnd(chars.length)]).join('')))];
    assert.deepEqual(byteOrder(names), strcmpOrder(names), JSON.stringify(names));
  }
});
