//! Test results: what one test case amounted to in one upload (a JUnit XML file or a CDEvents
//! test run), independent of how it was reported.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What a test case amounted to in one report. `error` (the test could not run: an exception
/// outside an assertion) counts as failed in failure rates; `flaky` means it failed and passed
/// on the same commit (within one report: retries, or the report's own flaky elements).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TestStatus {
    Failed,
    Error,
    Flaky,
    Skipped,
    Passed,
}

impl TestStatus {
    /// Stored as a small integer; the order puts failures first.
    pub fn code(self) -> i16 {
        match self {
            TestStatus::Failed => 0,
            TestStatus::Error => 1,
            TestStatus::Flaky => 2,
            TestStatus::Skipped => 3,
            TestStatus::Passed => 4,
        }
    }

    pub fn from_code(code: i16) -> Option<Self> {
        [
            TestStatus::Failed,
            TestStatus::Error,
            TestStatus::Flaky,
            TestStatus::Skipped,
            TestStatus::Passed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }

    /// Failed or error: the test did not pass in the end.
    pub fn is_failure(self) -> bool {
        matches!(self, TestStatus::Failed | TestStatus::Error)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TestStatus::Failed => "failed",
            TestStatus::Error => "error",
            TestStatus::Flaky => "flaky",
            TestStatus::Skipped => "skipped",
            TestStatus::Passed => "passed",
        }
    }
}

/// A test case's identity: the same four strings name the same test in every run of a repository.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TestKey {
    /// The names of the enclosing `<testsuite>` elements, outermost first, joined by ` / `
    /// (`<testsuites>` names are left out: tools name them after the whole run).
    pub suite: String,
    pub classname: String,
    pub name: String,
    /// `file` when the report gives it, else empty.
    pub file: String,
}

/// One test case of a report, its attempts already merged.
#[derive(Debug, Clone, PartialEq)]
pub struct TestCase {
    pub key: TestKey,
    pub status: TestStatus,
    /// How many times it ran in this report (1, or more with retries).
    pub attempts: u32,
    /// Seconds, of the last attempt when it ran several times.
    pub duration_seconds: Option<f64>,
    pub started_at: Option<DateTime<Utc>>,
    /// The failure or error message (of the last failing attempt), or the skip reason.
    pub message: Option<String>,
    /// `system-out` and `system-err` (and a failure's body text), of the attempt that failed last.
    pub output: Option<String>,
}

/// One test case's result reported on its own (a CDEvents `testcaserun`), for a pipeline run.
#[derive(Debug, Clone, PartialEq)]
pub struct TestEvent {
    /// The run it belongs to.
    pub run_id: String,
    /// What identifies the event (its CloudEvent id): the same event twice is counted once.
    pub event_key: String,
    pub case: TestCase,
}

/// The counts of distinct test cases in one report, as the upload answers them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct TestCounts {
    pub tests: u64,
    pub passed: u64,
    /// Failed in the end, errors included.
    pub failed: u64,
    pub skipped: u64,
    pub flaky: u64,
    /// The failed ones that were errors rather than assertion failures.
    pub errors: u64,
}

impl TestCounts {
    pub fn plus(&self, o: &TestCounts) -> TestCounts {
        TestCounts {
            tests: self.tests + o.tests,
            passed: self.passed + o.passed,
            failed: self.failed + o.failed,
            skipped: self.skipped + o.skipped,
            flaky: self.flaky + o.flaky,
            errors: self.errors + o.errors,
        }
    }

    pub fn of<'a>(statuses: impl IntoIterator<Item = &'a TestStatus>) -> Self {
        let mut c = TestCounts::default();
        for s in statuses {
            c.tests += 1;
            match s {
                TestStatus::Passed => c.passed += 1,
                TestStatus::Failed => c.failed += 1,
                TestStatus::Error => {
                    c.failed += 1;
                    c.errors += 1;
                }
                TestStatus::Skipped => c.skipped += 1,
                TestStatus::Flaky => c.flaky += 1,
            }
        }
        c
    }
}
