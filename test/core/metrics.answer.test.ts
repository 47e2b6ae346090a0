// src/core/answer.ts: GSM8K answer extraction and matching.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { answersMatch, extractAnswer, normaliseNumber } from '../../src/core/answer';

test('extractAnswer: the text after #### wins over any other number', () => {
  assert.equal(extractAnswer('Natalia sold 48/2 = <<48/2=24>>24 clips in May.\n#### 72'), '72');
  assert.equal(extractAnswer('costs 5 dollars\n####  $1,234'), '1234');
  assert.equal(extractAnswer('#### -7.50'), '-7.5');
});

test('extractAnswer: without a marker, the last number in the text', () => {
  assert.equal(extractAnswer('First 3 apples, then 4 more, so 7.'), '7');
  assert.equal(extractAnswer('The total is 12.0 dollars'), '12');
  assert.equal(extractAnswer('it drops to .5 of it'), '.5');
});

test('extractAnswer: no number and no marker → undefined; a marker with words keeps the words', () => {
  assert.equal(extractAnswer('I do not know'), undefined);
  assert.equal(extractAnswer(''), undefined);
  assert.equal(extractAnswer('#### seventy'), 'seventy');
  assert.equal(extractAnswer('####   '), undefined);
});

test('normaliseNumber: commas, $, a leading +, trailing zeros and -0', () => {
  assert.equal(normaliseNumber('$1,000'), '1000');
  assert.equal(normaliseNumber('+42'), '42');
  assert.equal(normaliseNumber('3.1400'), '3.14');
  assert.equal(normaliseNumber('5.'), '5');
  assert.equal(normaliseNumber('-0'), '0');
  assert.equal(normaliseNumber('-0.0'), '0');
});

test('answersMatch: equal extracted answers match, different ones and missing ones do not', () => {
  assert.ok(answersMatch('so she earned $10.00 in total', 'Weng earns 12/60 = $0.2 per minute.\n#### 10'));
  assert.ok(!answersMatch('so she earned $11', '#### 10'));
  assert.ok(!answersMatch('no number here', '#### 10'));
  assert.ok(!answersMatch('10', 'no answer here'));
});
