// A test that fails on its first attempt and passes on the next (see flake.js). Retries are on
// only when JUNIT_RETRIES is set (scripts/junit-reports.sh sets 2 for jest-retries.xml).
const { flakyAttemptFails } = require('./flake');

const retries = Number(process.env.JUNIT_RETRIES || 0);
if (retries > 0) {
  jest.retryTimes(retries, { logErrorsBeforeRetry: true });
}

describe('network client', () => {
  test('sends a ping', () => {
    expect('ping'.toUpperCase()).toBe('PING');
  });

  test('reconnects after a dropped connection', () => {
    if (flakyAttemptFails('jest-reconnects')) {
      throw new Error('connection dropped (flaky: the first attempt fails on purpose)');
    }
  });
});
