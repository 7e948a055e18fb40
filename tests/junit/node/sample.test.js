// Passing, failing, skipped and describe-nested tests; the report is written by jest-junit.
describe('calculator', () => {
  test('adds numbers', () => {
    expect(1 + 2).toBe(3);
  });

  test('multiplies numbers', () => {
    expect(2 * 3).toBe(6);
  });

  test('divides numbers', () => {
    // Fails on purpose: 7 / 2 is 3.5.
    expect(7 / 2).toBe(4);
  });

  test.skip('rounds to cents', () => {
    expect(Math.round(1.005 * 100) / 100).toBe(1.01);
  });

  describe('with negative numbers', () => {
    test('subtracts below zero', () => {
      expect(2 - 5).toBe(-3);
    });
  });
});
