// Attempt counter for the deliberately flaky test, kept in $JUNIT_FLAKE_DIR (a fresh directory
// per run, made by scripts/junit-reports.sh) so that the result is deterministic: the first
// attempt fails and any later one passes, or every attempt passes when JUNIT_FLAKE_PASS=1.
const fs = require('fs');
const path = require('path');

function flakyAttemptFails(name) {
  const dir = process.env.JUNIT_FLAKE_DIR;
  if (!dir) throw new Error('JUNIT_FLAKE_DIR is not set: run this suite through scripts/junit-reports.sh');
  const file = path.join(dir, `${name}.count`);
  const attempt = (fs.existsSync(file) ? Number(fs.readFileSync(file, 'utf8')) : 0) + 1;
  fs.writeFileSync(file, String(attempt));
  return attempt === 1 && process.env.JUNIT_FLAKE_PASS !== '1';
}

module.exports = { flakyAttemptFails };
