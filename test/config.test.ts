import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseBool, parseSize, parseUnsigned, parseInt32, splitWords, splitColonFields } from '../src/config/values.js';
import { parseIni } from '../src/config/ini.js';
import { expandSpecifiers } from '../src/config/specifiers.js';
import { ConfigError } from '../src/errors.js';

test('parse_size: suffixes, fractions, concatenation, refusals', () => {
  const M = 1024n * 1024n;
  assert.equal(parseSize('4096'), 4096n);
  assert.equal(parseSize('1K'), 1024n);
  assert.equal(parseSize('1.5M'), 1572864n);
  assert.equal(parseSize('1G 512M'), 1536n * M);
  assert.equal(parseSize('10.M'), 10n * M);
  assert.equal(parseSize('7B'), 7n);
  assert.equal(parseSize(' 3 G'), 3n * 1024n * M);
  assert.equal(parseSize('16E'), null, 'overflow');
  for (const bad of ['', '-1', '1k', '12Q', 'M', '1M 1G', '1M1M', 'abc']) assert.equal(parseSize(bad), null, bad);
});

test('booleans and integers with C base detection', () => {
  for (const t of ['1', 'yes', 'Y', 'true', 'T', 'on']) assert.equal(parseBool(t), true);
  for (const f of ['0', 'no', 'N', 'false', 'f', 'OFF']) assert.equal(parseBool(f), false);
  assert.equal(parseBool('maybe'), null);
  assert.equal(parseUnsigned('0x8000000000000000'), 1n << 63n);
  assert.equal(parseUnsigned('0b101'), 5n);
  assert.equal(parseUnsigned('0o17'), 15n);
  assert.equal(parseUnsigned('017'), 15n);
  assert.equal(parseUnsigned('0'), 0n);
  assert.equal(parseUnsigned('-1'), null);
  assert.equal(parseUnsigned('0x10000000000000000'), null);
  assert.equal(parseUnsigned('12a'), null);
  assert.equal(parseInt32('-5'), -5);
  assert.equal(parseInt32('2147483648'), null);
});

test('word and field splitting with quotes and C escapes', () => {
  assert.deepEqual(splitWords(`/a "/b c" '/d e'  /f`), ['/a', '/b c', '/d e', '/f']);
  assert.equal(splitWords('"/unterminated'), null);
  assert.deepEqual(splitColonFields('/src\\x3afoo:/dst:fsverity=copy'), ['/src:foo', '/dst', 'fsverity=copy']);
});

test('conf-parser: comments, continuation, sections, BOM, missing =', () => {
  const text = '\ufeff# c\n[Partition]\nType=\\\n  root\nLabel=a # not a comment\n; c\nnoequals\n[X-Mine]\nType=x\n[Other]\nType=y\n[Partition]\n  Weight  =  5  \n';
  const r = parseIni(Buffer.from(text), 'f.conf', ['Partition']);
  assert.deepEqual(r.assignments.map((a) => [a.key, a.value, a.line]), [['Type', 'root', 3], ['Label', 'a # not a comment', 5], ['Weight', '5', 13]]);
  assert.equal(r.warnings.length, 2); // missing '=', unknown section [Other]
  assert.throws(() => parseIni(Buffer.from('[Partition\nType=root\n'), 'f.conf', ['Partition']), (e: unknown) => e instanceof ConfigError && e.code === 'E_CONFIG_SYNTAX' && /f\.conf:1/.test(e.message));
  assert.throws(() => parseIni(Buffer.from([0x5b, 0xff, 0x5d]), 'f.conf', ['Partition']), /not valid UTF-8/);
});

test('specifiers: %% and literal %, unknown letters refused, extras', () => {
  assert.equal(expandSpecifiers('%%x-100%'), '%x-100%');
  assert.equal(expandSpecifiers('a%-b'), 'a%-b');
  assert.throws(() => expandSpecifiers('%Z'), /unknown specifier/);
  assert.equal(expandSpecifiers('%t-%n', { extra: { t: 'esp', n: '0' } }), 'esp-0');
});
