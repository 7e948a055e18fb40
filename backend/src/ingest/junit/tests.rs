//! Reports shaped like what each tool writes, the rules of the module documentation one by one,
//! documents that must be refused, and property tests (no input makes the parser panic; every
//! well-formed report-like document is read, within the limits).

use proptest::prelude::*;

use super::*;
use crate::ingest::props::cases as proptest_cases;

fn read(xml: &str) -> Vec<TestCase> {
    match parse(xml.as_bytes()) {
        Ok(cases) => {
            well_formed(&cases);
            cases
        }
        Err(e) => panic!("refused: {e}\n{xml}"),
    }
}

fn refused(xml: impl AsRef<[u8]>) -> JunitError {
    match parse(xml.as_ref()) {
        Ok(cases) => panic!("accepted: {cases:?}"),
        Err(e) => e,
    }
}

/// The case named `name` (the only one with that name in the report).
fn case<'a>(cases: &'a [TestCase], name: &str) -> &'a TestCase {
    let mut found = cases.iter().filter(|c| c.key.name == name);
    match (found.next(), found.next()) {
        (Some(c), None) => c,
        _ => panic!("not exactly one case named {name:?} in {cases:#?}"),
    }
}

fn key(suite: &str, classname: &str, name: &str, file: &str) -> TestKey {
    TestKey {
        suite: suite.into(),
        classname: classname.into(),
        name: name.into(),
        file: file.into(),
    }
}

fn at(s: &str) -> Option<DateTime<Utc>> {
    Some(DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc))
}

/// The invariants every parsed report holds (what the writer and the database rely on).
fn well_formed(cases: &[TestCase]) {
    for pair in cases.windows(2) {
        assert!(pair[0].key < pair[1].key, "not sorted or not distinct: {pair:#?}");
    }
    for c in cases {
        let k = &c.key;
        for s in [&k.suite, &k.classname, &k.name, &k.file] {
            assert!(s.chars().count() <= MAX_TEST_NAME && !s.contains('\0'), "{c:?}");
        }
        assert!(!k.classname.is_empty() || !k.name.is_empty(), "{c:?}");
        assert!(c.attempts >= 1, "{c:?}");
        assert!(
            c.duration_seconds.is_none_or(|d| d.is_finite() && d >= 0.0),
            "{c:?}"
        );
        assert!(
            c.message
                .as_ref()
                .is_none_or(|m| m.chars().count() <= MAX_MESSAGE && !m.contains('\0')),
            "{c:?}"
        );
        assert!(
            c.output
                .as_ref()
                .is_none_or(|o| o.len() <= MAX_OUTPUT && !o.contains('\0')),
            "{c:?}"
        );
        match c.status {
            TestStatus::Passed => assert!(c.message.is_none() && c.output.is_none(), "{c:?}"),
            TestStatus::Skipped => assert!(c.output.is_none(), "{c:?}"),
            TestStatus::Flaky => assert!(c.attempts >= 2, "{c:?}"),
            TestStatus::Failed | TestStatus::Error => {}
        }
    }
}

// ---- what tools write ---------------------------------------------------------------------------

#[test]
fn surefire_with_flaky_and_rerun_failures() {
    let cases = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:noNamespaceSchemaLocation="https://maven.apache.org/surefire/maven-surefire-plugin/xsd/surefire-test-report-3.0.xsd" version="3.0" name="com.acme.OrderServiceTest" time="3.217" tests="5" errors="0" skipped="1" failures="1">
  <properties>
    <property name="java.version" value="17.0.9"/>
    <property name="surefire.rerunFailingTestsCount" value="2"/>
  </properties>
  <testcase name="createsOrder" classname="com.acme.OrderServiceTest" time="0.412"/>
  <testcase name="retriesPayment" classname="com.acme.OrderServiceTest" time="0.208">
    <flakyFailure message="expected: &lt;200&gt; but was: &lt;503&gt;" type="org.opentest4j.AssertionFailedError">
      <stackTrace><![CDATA[org.opentest4j.AssertionFailedError: expected: <200> but was: <503>
	at com.acme.OrderServiceTest.retriesPayment(OrderServiceTest.java:57)
]]></stackTrace>
      <system-out><![CDATA[calling the payment gateway
gateway answered 503 Service Unavailable
]]></system-out>
    </flakyFailure>
  </testcase>
  <testcase name="cancelsOrder" classname="com.acme.OrderServiceTest" time="1.002">
    <failure message="expected: &lt;CANCELLED&gt; but was: &lt;OPEN&gt;" type="org.opentest4j.AssertionFailedError"><![CDATA[org.opentest4j.AssertionFailedError: expected: <CANCELLED> but was: <OPEN>
	at com.acme.OrderServiceTest.cancelsOrder(OrderServiceTest.java:88)
]]></failure>
    <system-out><![CDATA[cancel requested for order 42
]]></system-out>
    <rerunFailure message="expected: &lt;CANCELLED&gt; but was: &lt;OPEN&gt;" type="org.opentest4j.AssertionFailedError">
      <stackTrace><![CDATA[org.opentest4j.AssertionFailedError: expected: <CANCELLED> but was: <OPEN>]]></stackTrace>
    </rerunFailure>
    <rerunFailure message="expected: &lt;CANCELLED&gt; but was: &lt;OPEN&gt;" type="org.opentest4j.AssertionFailedError">
      <stackTrace><![CDATA[org.opentest4j.AssertionFailedError: expected: <CANCELLED> but was: <OPEN>]]></stackTrace>
    </rerunFailure>
  </testcase>
  <testcase name="connectsToDatabase" classname="com.acme.OrderServiceTest" time="0.050">
    <error message="Connection refused" type="java.net.ConnectException">java.net.ConnectException: Connection refused</error>
    <rerunError message="Connection refused" type="java.net.ConnectException">
      <stackTrace>java.net.ConnectException: Connection refused</stackTrace>
    </rerunError>
  </testcase>
  <testcase name="refundsOrder" classname="com.acme.OrderServiceTest" time="0">
    <skipped message="refunds disabled"/>
  </testcase>
</testsuite>
"#,
    );
    assert_eq!(cases.len(), 5);
    let suite = "com.acme.OrderServiceTest";
    let passed = case(&cases, "createsOrder");
    assert_eq!(passed.key, key(suite, suite, "createsOrder", ""));
    assert_eq!(
        (passed.status, passed.attempts, passed.duration_seconds),
        (TestStatus::Passed, 1, Some(0.412))
    );

    let flaky = case(&cases, "retriesPayment");
    assert_eq!((flaky.status, flaky.attempts), (TestStatus::Flaky, 2));
    assert_eq!(flaky.message.as_deref(), Some("expected: <200> but was: <503>"));
    assert_eq!(
        flaky.output.as_deref(),
        Some(
            "--- flakyFailure ---\norg.opentest4j.AssertionFailedError: expected: <200> but was: <503>\n\
             \tat com.acme.OrderServiceTest.retriesPayment(OrderServiceTest.java:57)\n\
             --- system-out ---\ncalling the payment gateway\ngateway answered 503 Service Unavailable"
        )
    );

    let failed = case(&cases, "cancelsOrder");
    assert_eq!((failed.status, failed.attempts), (TestStatus::Failed, 3));
    assert_eq!(
        failed.message.as_deref(),
        Some("expected: <CANCELLED> but was: <OPEN>")
    );
    let output = failed.output.as_deref().unwrap();
    assert!(
        output.starts_with("--- failure ---\norg.opentest4j.AssertionFailedError"),
        "{output}"
    );
    assert!(
        output.ends_with("--- system-out ---\ncancel requested for order 42"),
        "{output}"
    );

    let error = case(&cases, "connectsToDatabase");
    assert_eq!((error.status, error.attempts), (TestStatus::Error, 2));
    assert_eq!(error.message.as_deref(), Some("Connection refused"));
    assert_eq!(
        error.output.as_deref(),
        Some("java.net.ConnectException: Connection refused")
    );

    let skipped = case(&cases, "refundsOrder");
    assert_eq!(
        (
            skipped.status,
            skipped.message.as_deref(),
            skipped.output.as_deref()
        ),
        (TestStatus::Skipped, Some("refunds disabled"), None)
    );
    assert_eq!(skipped.duration_seconds, Some(0.0));
    assert_eq!(
        counts(&cases),
        TestCounts {
            tests: 5,
            passed: 1,
            failed: 2,
            skipped: 1,
            flaky: 1,
            errors: 1
        }
    );
}

#[test]
fn a_rerun_failure_on_a_test_that_passed_in_the_end_is_flaky() {
    let cases = read(
        r#"<testsuite name="com.acme.T" tests="1">
  <testcase name="t" classname="com.acme.T" time="0.5">
    <rerunFailure message="timeout" type="java.util.concurrent.TimeoutException"/>
    <rerunError type="java.lang.IllegalStateException"><stackTrace>java.lang.IllegalStateException
	at com.acme.T.t(T.java:3)</stackTrace><system-err>stderr of the second run</system-err></rerunError>
  </testcase>
</testsuite>"#,
    );
    let c = case(&cases, "t");
    assert_eq!((c.status, c.attempts), (TestStatus::Flaky, 3));
    // The last failed attempt's: its type, there being no message.
    assert_eq!(c.message.as_deref(), Some("java.lang.IllegalStateException"));
    assert_eq!(
        c.output.as_deref(),
        Some("--- rerunError ---\njava.lang.IllegalStateException\n\tat com.acme.T.t(T.java:3)\n--- system-err ---\nstderr of the second run")
    );
}

#[test]
fn gradle_with_and_without_merged_reruns() {
    // Without `mergeReruns`, the test-retry plugin writes each execution.
    let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="com.acme.CartTest" tests="4" skipped="0" failures="2" errors="0" timestamp="2024-05-06T07:08:09" hostname="runner-1" time="0.05">
  <properties/>
  <testcase name="addsItem()" classname="com.acme.CartTest" time="0.012"/>
  <testcase name="removesItem()" classname="com.acme.CartTest" time="0.031">
    <failure message="java.lang.AssertionError: expected 0 but was 1" type="java.lang.AssertionError">java.lang.AssertionError: expected 0 but was 1
	at com.acme.CartTest.removesItem(CartTest.java:31)
</failure>
  </testcase>
  <testcase name="removesItem()" classname="com.acme.CartTest" time="0.029"/>
  <system-out><![CDATA[suite-level output is not a test's]]></system-out>
  <system-err><![CDATA[]]></system-err>
</testsuite>
"#;
    let cases = read(xml);
    assert_eq!(cases.len(), 2);
    let c = case(&cases, "removesItem()");
    assert_eq!(
        (c.status, c.attempts, c.duration_seconds),
        (TestStatus::Flaky, 2, Some(0.029))
    );
    assert_eq!(
        c.message.as_deref(),
        Some("java.lang.AssertionError: expected 0 but was 1")
    );
    assert_eq!(
        c.output.as_deref(),
        Some("java.lang.AssertionError: expected 0 but was 1\n\tat com.acme.CartTest.removesItem(CartTest.java:31)")
    );
    assert_eq!(c.started_at, at("2024-05-06T07:08:09Z"));
    assert_eq!(case(&cases, "addsItem()").output, None);

    // With `mergeReruns`: one element, the failed executions as flaky failures.
    let merged = read(
        r#"<testsuite name="com.acme.CartTest" tests="1" timestamp="2024-05-06T07:08:09">
  <testcase name="removesItem()" classname="com.acme.CartTest" time="0.029">
    <flakyFailure message="java.lang.AssertionError: expected 0 but was 1" type="java.lang.AssertionError">java.lang.AssertionError: expected 0 but was 1
	at com.acme.CartTest.removesItem(CartTest.java:31)</flakyFailure>
  </testcase>
</testsuite>"#,
    );
    let m = case(&merged, "removesItem()");
    assert_eq!(
        (m.status, m.attempts, m.duration_seconds),
        (TestStatus::Flaky, 2, Some(0.029))
    );
    assert_eq!(m.message, c.message);
    assert_eq!(m.output, c.output);
}

#[test]
fn pytest() {
    let cases = read(
        r#"<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="1" failures="1" skipped="1" tests="4" time="0.123" timestamp="2024-05-06T07:08:09.123456+02:00" hostname="ci"><testcase classname="tests.test_api" name="test_get" time="0.001" /><testcase classname="tests.test_api" name="test_post" time="0.010"><failure message="assert 500 == 201">client = &lt;FlaskClient&gt;

    def test_post(client):
&gt;       assert client.post("/").status_code == 201
E       assert 500 == 201

tests/test_api.py:12: AssertionError</failure><system-out>--------------------------------- Captured stdout call ---------------------------------
posting
</system-out></testcase><testcase classname="tests.test_api" name="test_skip" time="0.000"><skipped type="pytest.skip" message="needs network">/app/tests/test_api.py:20: needs network</skipped></testcase><testcase classname="tests.test_api" name="test_db" time="0.002"><error message="failed on setup with &quot;ConnectionRefusedError: [Errno 111]&quot;">@pytest.fixture
def db():
&gt;   return connect()
E   ConnectionRefusedError: [Errno 111]</error></testcase></testsuite></testsuites>"#,
    );
    assert_eq!(cases.len(), 4);
    assert!(cases
        .iter()
        .all(|c| c.key.suite == "pytest" && c.key.classname == "tests.test_api"));
    assert!(cases
        .iter()
        .all(|c| c.started_at == at("2024-05-06T05:08:09.123456Z")));
    let post = case(&cases, "test_post");
    assert_eq!(
        (post.status, post.message.as_deref()),
        (TestStatus::Failed, Some("assert 500 == 201"))
    );
    let output = post.output.as_deref().unwrap();
    assert!(
        output.starts_with(
            "--- failure ---\nclient = <FlaskClient>\n\n    def test_post(client):\n>       assert"
        ),
        "{output}"
    );
    assert!(output.ends_with("--- system-out ---\n--------------------------------- Captured stdout call ---------------------------------\nposting"), "{output}");
    let skip = case(&cases, "test_skip");
    assert_eq!(
        (skip.status, skip.message.as_deref()),
        (TestStatus::Skipped, Some("needs network"))
    );
    let db = case(&cases, "test_db");
    assert_eq!(db.status, TestStatus::Error);
    assert_eq!(
        db.message.as_deref(),
        Some("failed on setup with \"ConnectionRefusedError: [Errno 111]\"")
    );
    assert_eq!(case(&cases, "test_get").duration_seconds, Some(0.001));
}

/// pytest-rerunfailures writes the attempts it re-ran as empty testcases: in a pytest report,
/// the last record decides, and a test re-run to a pass is flaky. Elsewhere a test repeated and
/// passing each time (Playwright `--repeat-each`, `go test -count=2`) stays passed.
#[test]
fn pytest_reruns() {
    let cases = read(
        r#"<testsuites><testsuite name="pytest" tests="5">
<testcase classname="t" name="flaky" time="0.1"/><testcase classname="t" name="flaky" time="0.2"/>
<testcase classname="t" name="broken"/><testcase classname="t" name="broken"/>
<testcase classname="t" name="broken"><failure message="assert 1 == 2"/></testcase>
<testcase classname="t" name="once"/>
</testsuite></testsuites>"#,
    );
    let flaky = case(&cases, "flaky");
    assert_eq!(
        (flaky.status, flaky.attempts, flaky.duration_seconds),
        (TestStatus::Flaky, 2, Some(0.2))
    );
    let broken = case(&cases, "broken");
    assert_eq!(
        (broken.status, broken.attempts, broken.message.as_deref()),
        (TestStatus::Failed, 3, Some("assert 1 == 2"))
    );
    assert_eq!(case(&cases, "once").status, TestStatus::Passed);

    let repeated = read(r#"<testsuite name="chromium"><testcase name="a"/><testcase name="a"/></testsuite>"#);
    assert_eq!(
        (repeated[0].status, repeated[0].attempts),
        (TestStatus::Passed, 2)
    );
}

#[test]
fn jest_junit() {
    let cases = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="jest tests" tests="3" failures="1" errors="0" time="1.234">
  <testsuite name="cart" errors="0" failures="1" skipped="1" timestamp="2024-05-06T07:08:09" time="0.8" tests="3">
    <testcase classname="cart adds an item" name="cart adds an item" time="0.004">
    </testcase>
    <testcase classname="cart removes an item" name="cart removes an item" time="0.011">
      <failure>Error: expect(received).toBe(expected) // Object.is equality

Expected: 0
Received: 1
    at Object.&lt;anonymous&gt; (/app/cart.test.js:12:20)</failure>
      <failure>Error: second assertion</failure>
    </testcase>
    <testcase classname="cart pending" name="cart pending" time="0">
      <skipped/>
    </testcase>
  </testsuite>
  <testsuite name="empty.test.js" errors="0" failures="0" skipped="0" timestamp="2024-05-06T07:08:10" time="0" tests="0">
  </testsuite>
</testsuites>"#,
    );
    assert_eq!(cases.len(), 3);
    let removes = case(&cases, "cart removes an item");
    assert_eq!(
        removes.key,
        key("cart", "cart removes an item", "cart removes an item", "")
    );
    assert_eq!(removes.status, TestStatus::Failed);
    // No message attribute: the first line of the first failure.
    assert_eq!(
        removes.message.as_deref(),
        Some("Error: expect(received).toBe(expected) // Object.is equality")
    );
    assert_eq!(
        removes.output.as_deref(),
        Some(
            "Error: expect(received).toBe(expected) // Object.is equality\n\nExpected: 0\nReceived: 1\n    \
             at Object.<anonymous> (/app/cart.test.js:12:20)\nError: second assertion"
        )
    );
    let pending = case(&cases, "cart pending");
    assert_eq!(
        (pending.status, pending.message.as_deref()),
        (TestStatus::Skipped, None)
    );
    assert_eq!(pending.started_at, at("2024-05-06T07:08:09Z"));
}

#[test]
fn playwright() {
    let cases = read(
        r#"<testsuites id="" name="" tests="2" failures="1" skipped="0" errors="0" time="5.2">
<testsuite name="login.spec.ts" timestamp="2024-05-06T07:08:09.123Z" hostname="chromium" tests="2" failures="1" skipped="0" time="4.1" errors="0">
<testcase name="login › logs in" classname="login.spec.ts" time="2.9">
<properties>
<property name="annotation" value="slow">
</property>
</properties>
</testcase>
<testcase name="login › shows an error" classname="login.spec.ts" time="1.2">
<failure message="login.spec.ts:12:5 shows an error" type="FAILURE">
<![CDATA[  [chromium] › login.spec.ts:12:5 › login › shows an error ───────────

    Error: expect(locator).toBeVisible() failed
]]>
</failure>
<system-out>
<![CDATA[
[[ATTACHMENT|test-results/login-shows-an-error/trace.zip]]
]]>
</system-out>
</testcase>
</testsuite>
</testsuites>"#,
    );
    let c = case(&cases, "login › shows an error");
    assert_eq!(c.key.suite, "login.spec.ts");
    assert_eq!(c.message.as_deref(), Some("login.spec.ts:12:5 shows an error"));
    assert_eq!(
        c.output.as_deref(),
        Some(
            "--- failure ---\n  [chromium] › login.spec.ts:12:5 › login › shows an error ───────────\n\n    \
             Error: expect(locator).toBeVisible() failed\n\
             --- system-out ---\n[[ATTACHMENT|test-results/login-shows-an-error/trace.zip]]"
        )
    );
    assert_eq!(c.started_at, at("2024-05-06T07:08:09.123Z"));
    assert_eq!(case(&cases, "login › logs in").status, TestStatus::Passed);
}

#[test]
fn gotestsum_reruns_repeat_the_testcase() {
    let cases = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="5" failures="3" errors="0" time="1.500000">
	<testsuite tests="5" failures="3" time="1.200000" name="example.com/shop/cart" timestamp="2024-05-06T07:08:09Z">
		<properties>
			<property name="go.version" value="go1.22.2 linux/amd64"></property>
		</properties>
		<testcase classname="example.com/shop/cart" name="TestAdd" time="0.000000"></testcase>
		<testcase classname="example.com/shop/cart" name="TestFlaky" time="0.010000">
			<failure message="Failed" type="">=== RUN   TestFlaky&#xA;    cart_test.go:20: flaked&#xA;--- FAIL: TestFlaky (0.01s)&#xA;</failure>
		</testcase>
		<testcase classname="example.com/shop/cart" name="TestBroken" time="0.010000">
			<failure message="Failed" type="">first run</failure>
		</testcase>
		<testcase classname="example.com/shop/cart" name="TestFlaky" time="0.020000"></testcase>
		<testcase classname="example.com/shop/cart" name="TestBroken" time="0.030000">
			<failure message="Failed" type="">second run</failure>
		</testcase>
	</testsuite>
</testsuites>"#,
    );
    assert_eq!(cases.len(), 3);
    let flaky = case(&cases, "TestFlaky");
    assert_eq!(
        (flaky.status, flaky.attempts, flaky.duration_seconds),
        (TestStatus::Flaky, 2, Some(0.02))
    );
    assert_eq!(flaky.message.as_deref(), Some("Failed"));
    assert_eq!(
        flaky.output.as_deref(),
        Some("=== RUN   TestFlaky\n    cart_test.go:20: flaked\n--- FAIL: TestFlaky (0.01s)")
    );
    let broken = case(&cases, "TestBroken");
    assert_eq!(
        (broken.status, broken.attempts, broken.duration_seconds),
        (TestStatus::Failed, 2, Some(0.03))
    );
    assert_eq!(broken.output.as_deref(), Some("second run"));
    assert_eq!(broken.started_at, at("2024-05-06T07:08:09Z"));
}

#[test]
fn cargo_nextest_flaky_failures() {
    let cases = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="nextest-run" tests="3" failures="1" errors="0" uuid="45c50ba1-4bd0-4c58-8d2a-8a77e4a1bbb4" timestamp="2024-05-06T07:08:09.100+00:00" time="0.500">
    <testsuite name="shop::cart" tests="3" disabled="0" errors="0" failures="1">
        <testcase name="tests::adds" classname="shop::cart" timestamp="2024-05-06T07:08:09.200+00:00" time="0.010">
        </testcase>
        <testcase name="tests::flaky" classname="shop::cart" timestamp="2024-05-06T07:08:09.300+00:00" time="0.020">
            <flakyFailure timestamp="2024-05-06T07:08:09.250+00:00" time="0.015" type="test failure">
                <stackTrace>thread 'tests::flaky' panicked at src/cart.rs:10:5:
assertion failed: ready</stackTrace>
                <system-out>
running 1 test
test tests::flaky ... FAILED
</system-out>
                <system-err>thread 'tests::flaky' panicked at src/cart.rs:10:5:
assertion failed: ready
note: run with `RUST_BACKTRACE=1` environment variable to display a backtrace
</system-err>
            </flakyFailure>
            <flakyFailure timestamp="2024-05-06T07:08:09.270+00:00" time="0.015" type="test failure">
                <stackTrace>thread 'tests::flaky' panicked at src/cart.rs:10:5:
assertion failed: ready (second time)</stackTrace>
            </flakyFailure>
        </testcase>
        <testcase name="tests::broken" classname="shop::cart" timestamp="2024-05-06T07:08:09.400+00:00" time="0.030">
            <failure type="test failure with exit code 101">thread 'tests::broken' panicked at src/cart.rs:20:5:
boom</failure>
            <rerunFailure timestamp="2024-05-06T07:08:09.450+00:00" time="0.010" type="test failure with exit code 101"/>
            <system-out>running 1 test</system-out>
            <system-err>thread 'tests::broken' panicked at src/cart.rs:20:5:
boom</system-err>
        </testcase>
    </testsuite>
</testsuites>"#,
    );
    let flaky = case(&cases, "tests::flaky");
    assert_eq!(flaky.key, key("shop::cart", "shop::cart", "tests::flaky", ""));
    assert_eq!((flaky.status, flaky.attempts), (TestStatus::Flaky, 3));
    assert_eq!(flaky.message.as_deref(), Some("test failure"));
    // The last flaky element's: it has no output of its own.
    assert_eq!(
        flaky.output.as_deref(),
        Some("thread 'tests::flaky' panicked at src/cart.rs:10:5:\nassertion failed: ready (second time)")
    );
    assert_eq!(flaky.started_at, at("2024-05-06T07:08:09.300Z"));
    let broken = case(&cases, "tests::broken");
    assert_eq!((broken.status, broken.attempts), (TestStatus::Failed, 2));
    assert_eq!(broken.message.as_deref(), Some("test failure with exit code 101"));
    assert_eq!(
        broken.output.as_deref(),
        Some(
            "--- failure ---\nthread 'tests::broken' panicked at src/cart.rs:20:5:\nboom\n--- system-out ---\n\
             running 1 test\n--- system-err ---\nthread 'tests::broken' panicked at src/cart.rs:20:5:\nboom"
        )
    );
}

#[test]
fn phpunit_nested_suites_and_files() {
    let cases = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="Shop Test Suite" tests="3" assertions="3" errors="0" failures="1" skipped="0" time="0.020000">
    <testsuite name="Tests\Unit\CartTest" file="/app/tests/Unit/CartTest.php" tests="3" assertions="3" errors="0" failures="1" skipped="0" time="0.020000">
      <testcase name="testAdd" file="/app/tests/Unit/CartTest.php" line="12" class="Tests\Unit\CartTest" classname="Tests.Unit.CartTest" assertions="1" time="0.001000"/>
      <testsuite name="Tests\Unit\CartTest::testTotal" tests="2" assertions="2" errors="0" failures="1" skipped="0" time="0.010000">
        <testcase name="testTotal with data set &quot;empty&quot;" file="/app/tests/Unit/CartTest.php" line="25" class="Tests\Unit\CartTest" classname="Tests.Unit.CartTest" assertions="1" time="0.001000"/>
        <testcase name="testTotal with data set &quot;one&quot;" file="/app/tests/Unit/CartTest.php" line="25" class="Tests\Unit\CartTest" classname="Tests.Unit.CartTest" assertions="1" time="0.009000">
          <failure type="PHPUnit\Framework\ExpectationFailedException">Tests\Unit\CartTest::testTotal with data set "one"
Failed asserting that 0 matches expected 10.

/app/tests/Unit/CartTest.php:30</failure>
        </testcase>
      </testsuite>
    </testsuite>
  </testsuite>
</testsuites>"#,
    );
    let file = "/app/tests/Unit/CartTest.php";
    assert_eq!(
        cases.iter().map(|c| c.key.clone()).collect::<Vec<_>>(),
        vec![
            key(
                "Shop Test Suite / Tests\\Unit\\CartTest",
                "Tests.Unit.CartTest",
                "testAdd",
                file
            ),
            key(
                "Shop Test Suite / Tests\\Unit\\CartTest / Tests\\Unit\\CartTest::testTotal",
                "Tests.Unit.CartTest",
                "testTotal with data set \"empty\"",
                file
            ),
            key(
                "Shop Test Suite / Tests\\Unit\\CartTest / Tests\\Unit\\CartTest::testTotal",
                "Tests.Unit.CartTest",
                "testTotal with data set \"one\"",
                file
            ),
        ]
    );
    let failed = case(&cases, "testTotal with data set \"one\"");
    // No message attribute: the type.
    assert_eq!(
        failed.message.as_deref(),
        Some("PHPUnit\\Framework\\ExpectationFailedException")
    );
    assert!(failed
        .output
        .as_deref()
        .unwrap()
        .ends_with("/app/tests/Unit/CartTest.php:30"));
}

#[test]
fn catch2() {
    let cases = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites>
  <testsuite name="shop-tests" errors="0" failures="1" skipped="0" tests="3" hostname="tbd" time="0.01" timestamp="2024-05-06T07:08:09Z">
    <properties>
      <property name="random-seed" value="1234"/>
    </properties>
    <testcase classname="shop-tests.global" name="Cart/adds items" time="0.001" status="run"/>
    <testcase classname="shop-tests.global" name="Cart/totals" time="0.002" status="run">
      <failure message="total == 10" type="CHECK">
FAILED:
  CHECK( total == 10 )
with expansion:
  0 == 10
at /app/test/cart.cpp:20
      </failure>
    </testcase>
    <testcase classname="shop-tests.global" name="Cart/throws" time="0.001" status="run">
      <error message="std::runtime_error" type="TEST_CASE">
FAILED:
due to unexpected exception with message:
  out of stock
at /app/test/cart.cpp:31
      </error>
    </testcase>
    <system-out/>
    <system-err/>
  </testsuite>
</testsuites>"#,
    );
    let totals = case(&cases, "Cart/totals");
    assert_eq!(
        (totals.status, totals.message.as_deref()),
        (TestStatus::Failed, Some("total == 10"))
    );
    assert_eq!(
        totals.output.as_deref(),
        Some("FAILED:\n  CHECK( total == 10 )\nwith expansion:\n  0 == 10\nat /app/test/cart.cpp:20")
    );
    assert_eq!(case(&cases, "Cart/throws").status, TestStatus::Error);
    assert_eq!(case(&cases, "Cart/adds items").key.suite, "shop-tests");
}

#[test]
fn mocha() {
    let cases = read(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites name="Mocha Tests" time="0.0120" tests="2" failures="1">
  <testsuite name="Root Suite" timestamp="2024-05-06T07:08:09" tests="0" file="test/cart.js" time="0.0000" failures="0">
  </testsuite>
  <testsuite name="Cart" timestamp="2024-05-06T07:08:09" tests="2" file="test/cart.js" time="0.0120" failures="1">
    <testcase name="Cart adds" time="0.0010" classname="adds">
    </testcase>
    <testcase name="Cart removes" time="0.0020" classname="removes">
      <failure message="expected 1 to equal 0" type="AssertionError"><![CDATA[AssertionError: expected 1 to equal 0
    at Context.<anonymous> (test/cart.js:10:20)]]></failure>
    </testcase>
  </testsuite>
</testsuites>"#,
    );
    assert_eq!(cases.len(), 2);
    let c = case(&cases, "Cart removes");
    // The suite's `file` is not the testcase's.
    assert_eq!(c.key, key("Cart", "removes", "Cart removes", ""));
    assert_eq!(c.message.as_deref(), Some("expected 1 to equal 0"));
    assert_eq!(
        c.output.as_deref(),
        Some("AssertionError: expected 1 to equal 0\n    at Context.<anonymous> (test/cart.js:10:20)")
    );
}

/// An xunit (.NET) report converted by JunitXml.TestLogger, in UTF-16 as .NET tools may write it.
const XUNIT: &str = r#"<?xml version="1.0" encoding="utf-16"?>
<testsuites>
  <testsuite name="Shop.Tests.dll" tests="3" skipped="1" failures="1" errors="0" time="0.12" timestamp="2024-05-06T07:08:09" hostname="ci" id="0" package="Shop.Tests.dll">
    <properties />
    <testcase classname="Shop.Tests.CartTests" name="Adds(count: 1)" time="0.0100000" />
    <testcase classname="Shop.Tests.CartTests" name="Skips" time="0.0000000">
      <skipped message="not on linux" />
    </testcase>
    <testcase classname="Shop.Tests.CartTests" name="Prices(currency: &quot;€&quot;)" time="0.0200000">
      <failure type="failure" message="Assert.Equal() Failure: Values differ&#xD;&#xA;Expected: 10&#xD;&#xA;Actual:   0">   at Shop.Tests.CartTests.Prices(String currency) in /app/CartTests.cs:line 20</failure>
    </testcase>
    <system-out>[xUnit.net 00:00:00.10]   Discovering: Shop.Tests</system-out>
    <system-err></system-err>
  </testsuite>
</testsuites>"#;

fn check_xunit(cases: &[TestCase]) {
    assert_eq!(cases.len(), 3);
    let c = case(cases, "Prices(currency: \"€\")");
    assert_eq!(c.key.suite, "Shop.Tests.dll");
    assert_eq!(c.status, TestStatus::Failed);
    assert_eq!(
        c.message.as_deref(),
        Some("Assert.Equal() Failure: Values differ\r\nExpected: 10\r\nActual:   0")
    );
    assert_eq!(
        c.output.as_deref(),
        Some("   at Shop.Tests.CartTests.Prices(String currency) in /app/CartTests.cs:line 20")
    );
    assert_eq!(case(cases, "Skips").message.as_deref(), Some("not on linux"));
    assert_eq!(c.started_at, at("2024-05-06T07:08:09Z"));
}

#[test]
fn xunit_converted() {
    check_xunit(&read(&XUNIT.replace("utf-16", "utf-8")));
}

// ---- encodings ----------------------------------------------------------------------------------

fn utf16(s: &str, little_endian: bool) -> Vec<u8> {
    let mut bytes = if little_endian {
        vec![0xFF, 0xFE]
    } else {
        vec![0xFE, 0xFF]
    };
    for unit in s.encode_utf16() {
        bytes.extend(if little_endian {
            unit.to_le_bytes()
        } else {
            unit.to_be_bytes()
        });
    }
    bytes
}

#[test]
fn utf16_with_a_bom_is_read() {
    for little_endian in [true, false] {
        let cases = parse(&utf16(XUNIT, little_endian)).unwrap();
        check_xunit(&cases);
    }
    // Without a BOM, UTF-16 is recognized by its declaration's first bytes.
    let without_bom = utf16(XUNIT, true).split_off(2);
    check_xunit(&parse(&without_bom).unwrap());
    // An odd number of bytes is not UTF-16.
    let mut truncated = utf16(XUNIT, true);
    truncated.push(b'x');
    assert_eq!(refused(truncated), JunitError::Encoding("UTF-16LE"));
}

#[test]
fn a_utf8_bom_is_skipped() {
    let xml = "\u{FEFF}<?xml version=\"1.0\"?><testsuite name=\"s\"><testcase name=\"é\"/></testsuite>";
    assert_eq!(read(xml)[0].key.name, "é");
    // Positions count the BOM.
    assert_eq!(
        refused("\u{FEFF}<testsuite>"),
        JunitError::NotXml {
            reason: "unexpected end of document".into(),
            position: 14
        }
    );
}

#[test]
fn declared_single_byte_encodings_are_transcoded() {
    let mut latin1 = br#"<?xml version="1.0" encoding="ISO-8859-1"?><testsuite name="caf"#.to_vec();
    latin1.extend(b"\xE9\"><testcase classname=\"na\xEFve\" name=\"\xFCber &#233; &amp;\"/></testsuite>");
    let cases = parse(&latin1).unwrap();
    assert_eq!(cases[0].key, key("café", "naïve", "über é &", ""));

    let cp1252 = b"<?xml version='1.0' encoding='windows-1252'?>\n<testsuite><testcase name='costs \x80 5'/></testsuite>";
    assert_eq!(parse(cp1252).unwrap()[0].key.name, "costs € 5");

    // A UTF-8 BOM wins over the declaration.
    let bom =
        "\u{FEFF}<?xml version='1.0' encoding='ISO-8859-1'?><testsuite><testcase name='é'/></testsuite>";
    assert_eq!(read(bom)[0].key.name, "é");
    // An unknown encoding is read as UTF-8.
    assert_eq!(
        read("<?xml version='1.0' encoding='x-unknown'?><testsuite><testcase name='é'/></testsuite>")[0]
            .key
            .name,
        "é"
    );
}

#[test]
fn invalid_utf8_becomes_replacement_characters() {
    let cases =
        parse(b"<testsuite><testcase name='a\xFFb'><failure>x\xC3</failure></testcase></testsuite>").unwrap();
    assert_eq!(cases[0].key.name, "a\u{FFFD}b");
    assert_eq!(cases[0].output.as_deref(), Some("x\u{FFFD}"));
}

#[test]
fn nul_characters_are_replaced() {
    let cases = read("<testsuite name='s\0'><testcase name='a\0b'><failure message='m\0'>out\0put</failure></testcase></testsuite>");
    let c = &cases[0];
    assert_eq!(
        (c.key.suite.as_str(), c.key.name.as_str()),
        ("s\u{FFFD}", "a\u{FFFD}b")
    );
    assert_eq!(c.message.as_deref(), Some("m\u{FFFD}"));
    assert_eq!(c.output.as_deref(), Some("out\u{FFFD}put"));
}

// ---- the rules ----------------------------------------------------------------------------------

#[test]
fn empty_reports_have_no_cases() {
    for xml in [
        "<testsuites/>",
        "<testsuites></testsuites>",
        "<testsuite name=\"x\" tests=\"0\"/>",
        "<?xml version=\"1.0\"?>\n<!-- nothing ran -->\n<testsuites>\n  <testsuite name=\"x\" tests=\"0\">\n    <properties/>\n  </testsuite>\n</testsuites>\n",
        "<testsuite><testcase/><testcase name='  '/></testsuite>",
    ] {
        assert_eq!(read(xml), vec![], "{xml}");
    }
}

#[test]
fn suites_nest_and_only_testsuite_names_count() {
    let cases = read(
        r#"<testsuites name="run">
  <testsuites name="inner run">
    <testsuite name=" outer ">
      <testsuite>
        <testsuite name="inner"><testcase name="a" classname="C"/></testsuite>
        <testcase name="b"/>
      </testsuite>
    </testsuite>
  </testsuites>
  <testcase name="c" classname="C"/>
</testsuites>"#,
    );
    assert_eq!(
        cases.iter().map(|c| c.key.clone()).collect::<Vec<_>>(),
        vec![
            key("", "C", "c", ""),
            key("outer", "", "b", ""),
            key("outer / inner", "C", "a", "")
        ]
    );
}

#[test]
fn identity_is_suite_class_name_and_file() {
    let cases = read(
        r#"<testsuites>
  <testsuite name="s"><testcase name="t" classname="C" file="a.py"/></testsuite>
  <testsuite name="s"><testcase name="t" classname="C" file="b.py"/></testsuite>
  <testsuite name="s"><testcase name=" t " classname=" C " file=" a.py "><failure/></testcase></testsuite>
  <testsuite name="s2"><testcase name="t" classname="C" file="a.py"/></testsuite>
  <testsuite name="s"><testcase classname="C"/><testcase name="" classname="C"/></testsuite>
</testsuites>"#,
    );
    assert_eq!(
        cases
            .iter()
            .map(|c| (c.key.clone(), c.status, c.attempts))
            .collect::<Vec<_>>(),
        vec![
            (key("s", "C", "", ""), TestStatus::Passed, 2),
            (key("s", "C", "t", "a.py"), TestStatus::Flaky, 2),
            (key("s", "C", "t", "b.py"), TestStatus::Passed, 1),
            (key("s2", "C", "t", "a.py"), TestStatus::Passed, 1),
        ]
    );
}

#[test]
fn repeated_attempts_merge() {
    let report = |attempts: &[&str]| {
        let body: String = attempts
            .iter()
            .enumerate()
            .map(|(i, a)| format!("<testcase name='t' time='{i}'>{a}</testcase>"))
            .collect();
        let cases = read(&format!("<testsuite>{body}</testsuite>"));
        assert_eq!(cases.len(), 1);
        let c = cases.into_iter().next().unwrap();
        let retries = attempts.iter().filter(|a| a.contains("flaky")).count();
        assert_eq!(c.attempts as usize, attempts.len() + retries);
        assert_eq!(c.duration_seconds, Some((attempts.len() - 1) as f64));
        c
    };
    let (pass, fail, error, skip) = (
        "",
        "<failure message='f'/>",
        "<error message='e'/>",
        "<skipped message='s'/>",
    );
    let flaky = "<flakyFailure message='x'/>";
    for (attempts, status, message) in [
        (vec![pass], TestStatus::Passed, None),
        (vec![pass, pass], TestStatus::Passed, None),
        (vec![fail, pass], TestStatus::Flaky, Some("f")),
        (vec![pass, error], TestStatus::Flaky, Some("e")),
        (vec![fail, error, pass, skip], TestStatus::Flaky, Some("e")),
        (vec![fail, fail], TestStatus::Failed, Some("f")),
        (vec![fail, error], TestStatus::Error, Some("e")),
        (vec![error, fail], TestStatus::Failed, Some("f")),
        (vec![fail, skip], TestStatus::Failed, Some("f")),
        (vec![skip, skip], TestStatus::Skipped, Some("s")),
        (vec![skip, pass], TestStatus::Passed, None),
        (vec![flaky, fail], TestStatus::Flaky, Some("f")),
        (vec![fail, flaky], TestStatus::Flaky, Some("x")),
    ] {
        let c = report(&attempts);
        assert_eq!(
            (c.status, c.message.as_deref()),
            (status, message),
            "{attempts:?}"
        );
    }
    // A flaky element counts its own attempts.
    let c = read("<testsuite><testcase name='t'><flakyFailure/><flakyError/></testcase><testcase name='t'/></testsuite>");
    assert_eq!((c[0].status, c[0].attempts), (TestStatus::Flaky, 4));
}

#[test]
fn the_first_failure_or_error_decides() {
    let c = read("<testsuite><testcase name='t'><failure message='assert'/><error message='teardown'/></testcase></testsuite>");
    assert_eq!(
        (c[0].status, c[0].message.as_deref()),
        (TestStatus::Failed, Some("assert"))
    );
    let c = read("<testsuite><testcase name='t'><error/><failure/><skipped/></testcase></testsuite>");
    assert_eq!((c[0].status, c[0].message.as_deref()), (TestStatus::Error, None));
    let c = read("<testsuite><testcase name='t'><skipped/><failure message='f'/></testcase></testsuite>");
    assert_eq!(c[0].status, TestStatus::Failed);
    // Markup inside a failure is read through; a second failure's text follows the first's.
    let c = read(
        "<testsuite><testcase name='t'><failure>a<b>bold<i/></b>c<failure>nested</failure></failure>\
         <error>second</error></testcase></testsuite>",
    );
    assert_eq!(c[0].output.as_deref(), Some("aboldcnested\nsecond"));
    assert_eq!(c[0].message.as_deref(), Some("aboldcnested"));
}

#[test]
fn messages_fall_back_to_the_type_then_the_first_line() {
    let message = |inner: &str| {
        let c = read(&format!(
            "<testsuite><testcase name='t'>{inner}</testcase></testsuite>"
        ));
        c[0].message.clone()
    };
    assert_eq!(
        message("<failure message=' m ' type='T'>text</failure>").as_deref(),
        Some("m")
    );
    assert_eq!(
        message("<failure message='' type='T'>text</failure>").as_deref(),
        Some("T")
    );
    assert_eq!(
        message("<failure>\n\n   first line  \nsecond</failure>").as_deref(),
        Some("first line")
    );
    assert_eq!(
        message("<failure><![CDATA[\r\n  cdata line\r\n]]></failure>").as_deref(),
        Some("cdata line")
    );
    assert_eq!(message("<failure>  </failure>"), None);
    assert_eq!(
        message("<skipped>reason in text</skipped>").as_deref(),
        Some("reason in text")
    );
    let long = "é".repeat(MAX_MESSAGE + 10);
    assert_eq!(
        message(&format!("<error message='{long}'/>"))
            .unwrap()
            .chars()
            .count(),
        MAX_MESSAGE
    );
    assert_eq!(
        message(&format!("<error>{long}\nmore</error>"))
            .unwrap()
            .chars()
            .count(),
        MAX_MESSAGE
    );
}

#[test]
fn output_is_kept_for_failures_only() {
    let c = read(
        "<testsuite>\
           <testcase name='pass'><system-out>o</system-out><system-err>e</system-err></testcase>\
           <testcase name='skip'><skipped>why</skipped><system-out>o</system-out></testcase>\
           <testcase name='fail'><failure/><system-err>\n  indented\n\n</system-err></testcase>\
           <testcase name='bare'><failure/></testcase>\
         </testsuite>",
    );
    assert_eq!(case(&c, "pass").output, None);
    assert_eq!(case(&c, "skip").output, None);
    // One part: no header; blank lines around it trimmed, indentation kept.
    assert_eq!(case(&c, "fail").output.as_deref(), Some("  indented"));
    assert_eq!(case(&c, "bare").output, None);
}

#[test]
fn long_outputs_keep_their_end() {
    let body = format!("start\n{}\nthe cause", "é…".repeat(40_000));
    let c = read(&format!(
        "<testsuite><testcase name='t'><failure><![CDATA[{body}]]></failure><system-out>{}</system-out></testcase></testsuite>",
        "x".repeat(10)
    ));
    let output = c[0].output.as_deref().unwrap();
    assert!(
        output.len() <= MAX_OUTPUT && output.len() > MAX_OUTPUT - 4,
        "{}",
        output.len()
    );
    assert!(output.ends_with("é…\nthe cause\n--- system-out ---\nxxxxxxxxxx"));
    // The message still comes from the start.
    assert_eq!(c[0].message.as_deref(), Some("start"));

    // Text arriving in many small pieces (entities split it) is bounded as it comes.
    let pieces = "ab&amp;".repeat(60_000) + "end";
    let c = read(&format!(
        "<testsuite><testcase name='t'><error>{pieces}</error></testcase></testsuite>"
    ));
    let output = c[0].output.as_deref().unwrap();
    assert_eq!(output.len(), MAX_OUTPUT);
    assert!(output.ends_with("ab&ab&end"));
}

#[test]
fn times_and_timestamps() {
    let c = read(
        r#"<testsuites timestamp="2000-01-01T00:00:00Z">
  <testsuite name="s" timestamp="2024-01-02T03:04:05">
    <testcase name="comma" time="1,234.5"/>
    <testcase name="negative" time="-1"/>
    <testcase name="nan" time="NaN"/>
    <testcase name="inf" time="inf"/>
    <testcase name="words" time="fast"/>
    <testcase name="exp" time=" 1e-3 "/>
    <testcase name="own" timestamp="2024-01-02T03:04:05.250+01:00"/>
    <testcase name="fraction" timestamp="2024-01-02T03:04:05.5"/>
    <testcase name="space" timestamp="2024-01-02 03:04:05"/>
    <testcase name="bad" timestamp="yesterday"/>
    <testsuite name="inherits"><testcase name="nested"/></testsuite>
    <testsuite name="own" timestamp="2024-06-01T00:00:00Z"><testcase name="nested own"/></testsuite>
  </testsuite>
  <testsuite name="none"><testcase name="no timestamp"/></testsuite>
</testsuites>"#,
    );
    let time = |name| case(&c, name).duration_seconds;
    assert_eq!(time("comma"), Some(1234.5));
    assert_eq!(time("exp"), Some(0.001));
    for name in ["negative", "nan", "inf", "words", "own"] {
        assert_eq!(time(name), None, "{name}");
    }
    let started = |name| case(&c, name).started_at;
    assert_eq!(started("comma"), at("2024-01-02T03:04:05Z"));
    assert_eq!(started("own"), at("2024-01-02T02:04:05.250Z"));
    assert_eq!(started("fraction"), at("2024-01-02T03:04:05.5Z"));
    assert_eq!(started("space"), at("2024-01-02T03:04:05Z"));
    // An unreadable timestamp of its own: the suite's.
    assert_eq!(started("bad"), at("2024-01-02T03:04:05Z"));
    assert_eq!(started("nested"), at("2024-01-02T03:04:05Z"));
    assert_eq!(started("nested own"), at("2024-06-01T00:00:00Z"));
    // `<testsuites>` timestamps are not the cases'.
    assert_eq!(started("no timestamp"), None);
}

#[test]
fn long_names_are_capped_and_stay_distinct() {
    let long = |c: char| format!("{}{c}", "n".repeat(MAX_TEST_NAME + 100));
    let c = read(&format!(
        "<testsuite name='{}'><testsuite name='{}'><testcase name='{}' classname='{}' file='{}'/><testcase name='{}'/></testsuite></testsuite>",
        long('s'),
        long('t'),
        long('a'),
        long('c'),
        long('f'),
        long('b')
    ));
    assert_eq!(c.len(), 2);
    assert_ne!(c[0].key.name, c[1].key.name);
    for k in c.iter().map(|c| &c.key) {
        assert_eq!(k.suite.chars().count(), MAX_TEST_NAME);
        assert_eq!(k.name.chars().count(), MAX_TEST_NAME);
        assert!(k.name.starts_with("nnn") && k.name.contains('~'));
    }
    let full = c.iter().find(|c| !c.key.classname.is_empty()).unwrap();
    assert_eq!(full.key.classname, capped_id(long('c'), MAX_TEST_NAME));
    assert_eq!(full.key.file.chars().count(), MAX_TEST_NAME);
    // The same report reads the same: the identity is stable.
    assert_eq!(c[0].key.suite, c[1].key.suite);
}

#[test]
fn xml_syntax_real_reports_use() {
    let c = read(
        "\u{FEFF}<?xml version='1.0' encoding='UTF-8' standalone='yes'?>\r\n\
         <?xml-stylesheet type='text/xsl' href='junit.xsl'?>\r\n\
         <!-- generated -->\r\n\
         <testsuites xmlns='urn:x' xmlns:pw='urn:playwright' pw:extra='1'>\r\n\
           <pw:meta><anything deep='1'><testcase name='not a case'/></anything></pw:meta>\r\n\
           <testsuite name='a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos; &#233;&#x1F600;'>\r\n\
             <testcase name='t' unknown='x'><!-- c --><?pi?><failure>1 &lt; 2 &amp;&amp; <![CDATA[<!DOCTYPE html> & ]]]]><![CDATA[>]]></failure><extra>ignored</extra></testcase>\r\n\
           </testsuite>\r\n\
         </testsuites>\r\n",
    );
    assert_eq!(c.len(), 1);
    assert_eq!(c[0].key.suite, "a & b <c> \"d\" 'e' é😀");
    assert_eq!(c[0].output.as_deref(), Some("1 < 2 && <!DOCTYPE html> & ]]>"));
}

#[test]
fn counts_are_of_distinct_cases() {
    let c = read(
        "<testsuite><testcase name='a'/><testcase name='a'><failure/></testcase><testcase name='b'><error/></testcase>\
         <testcase name='c'><skipped/></testcase><testcase name='d'><failure/></testcase></testsuite>",
    );
    assert_eq!(
        counts(&c),
        TestCounts {
            tests: 4,
            passed: 0,
            failed: 2,
            skipped: 1,
            flaky: 1,
            errors: 1
        }
    );
}

// ---- refused ------------------------------------------------------------------------------------

#[test]
fn a_billion_laughs_is_refused_at_its_doctype() {
    let mut xml = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n <!ENTITY lol \"lol\">\n");
    for i in 1..10 {
        let prev = if i == 1 {
            "lol".to_owned()
        } else {
            format!("lol{}", i - 1)
        };
        xml.push_str(&format!(
            " <!ENTITY lol{i} \"{}\">\n",
            format!("&{prev};").repeat(10)
        ));
    }
    xml.push_str("]>\n<testsuite><testcase name=\"&lol9;\"/></testsuite>");
    let started = std::time::Instant::now();
    let e = refused(&xml);
    assert!(started.elapsed() < std::time::Duration::from_millis(100));
    assert_eq!(
        e,
        JunitError::Dtd {
            name: "lolz".into(),
            position: 22
        }
    );
    assert_eq!(
        e.to_string(),
        "document type declarations (DTD) are refused: found <!DOCTYPE lolz> at byte 22 \
         (JUnit reports have none, and their entities are not expanded)"
    );
}

#[test]
fn doctypes_are_refused_wherever_they_are() {
    let external = r#"<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><testsuite><testcase name="&e;"/></testsuite>"#;
    assert!(matches!(refused(external), JunitError::Dtd { name, .. } if name == "x"));
    assert!(
        matches!(refused("<!doctype html><html></html>"), JunitError::Dtd { name, .. } if name == "html")
    );
    assert!(matches!(
        refused("<testsuite><!DOCTYPE x></testsuite>"),
        JunitError::Dtd { .. }
    ));
    let utf16 = utf16("<!DOCTYPE x SYSTEM 'http://example.com/x.dtd'><testsuite/>", true);
    assert!(matches!(refused(utf16), JunitError::Dtd { .. }));
}

#[test]
fn undefined_entities_are_not_xml() {
    for xml in [
        "<testsuite><testcase name='t'><failure>&lol9;</failure></testcase></testsuite>",
        "<testsuite><testcase name='&lol9;'/></testsuite>",
        "<testsuite><properties><property value='&nbsp;'/></properties></testsuite>",
        "<testsuite>&nbsp;</testsuite>",
    ] {
        let e = refused(xml);
        assert!(
            matches!(&e, JunitError::NotXml { reason, .. } if reason.contains("lol9") || reason.contains("nbsp")),
            "{e:?}"
        );
    }
    assert_eq!(
        refused("<testsuite>&lol9;</testsuite>").to_string(),
        "not XML: undefined entity &lol9; at byte 11"
    );
    assert!(matches!(
        refused("<testsuite>&#0;</testsuite>"),
        JunitError::NotXml { .. }
    ));
    assert!(matches!(
        refused("<testsuite>a & b</testsuite>"),
        JunitError::NotXml { .. }
    ));
}

#[test]
fn what_is_not_xml() {
    let not_xml = |body: &str| match refused(body) {
        JunitError::NotXml { reason, position } => (reason, position),
        e => panic!("{body}: {e:?}"),
    };
    assert_eq!(
        not_xml(r#"{"testsuites": []}"#),
        ("text before the root element".into(), 0)
    );
    assert_eq!(not_xml(""), ("no root element".into(), 0));
    let comment = "  \n<!-- only a comment -->\n";
    assert_eq!(not_xml(comment), ("no root element".into(), comment.len() as u64));
    assert_eq!(
        not_xml("<testsuite/>trailing"),
        ("text after the root element".into(), 12)
    );
    assert_eq!(
        not_xml("<testsuite/><testsuite/>"),
        ("a second root element <testsuite>".into(), 12)
    );
    let truncated = "<testsuites><testsuite name='s'><testcase name='t'><failure>boom";
    assert_eq!(
        refused(truncated).to_string(),
        format!("not XML: unexpected end of document at byte {}", truncated.len())
    );
    let (reason, position) = not_xml("<testsuites><testsuite name='s'><testca");
    assert!(reason.contains("not closed"), "{reason}");
    assert_eq!(position, 32);
    let (reason, position) = not_xml("<testsuites><testsuite></testsuites>");
    assert_eq!(
        reason,
        "ill-formed document: expected `</testsuite>`, but `</testsuites>` was found"
    );
    assert_eq!(position, 23);
    let (reason, _) = not_xml("<html><body><p>unclosed<br></body></html>");
    assert!(reason.contains("expected `</br>`"), "{reason}");
    let (reason, _) = not_xml("<testsuite><testcase name=unquoted/></testsuite>");
    assert!(reason.starts_with("malformed attribute"), "{reason}");
    assert!(matches!(
        refused([0x1f, 0x8b, 0x08, 0x00, 0xff, 0x00]),
        JunitError::NotXml { .. }
    ));
}

#[test]
fn other_roots_are_not_junit() {
    assert_eq!(
        refused("<html><head><title>502 Bad Gateway</title></head><body><h1>502</h1></body></html>"),
        JunitError::NotJunit("html".into())
    );
    assert_eq!(
        JunitError::NotJunit("html".into()).to_string(),
        "not a JUnit report: the root element is <html>, expected <testsuites> or <testsuite>"
    );
    assert_eq!(
        refused("<?xml version='1.0'?><assemblies><assembly/></assemblies>"),
        JunitError::NotJunit("assemblies".into())
    );
    assert_eq!(
        refused("<testcase name='t'/>"),
        JunitError::NotJunit("testcase".into())
    );
    // Read to the end: what is not well-formed is not XML first.
    assert!(matches!(refused("<html><p></html>"), JunitError::NotXml { .. }));
}

#[test]
fn too_many_cases() {
    let mut xml = String::with_capacity(30 * (MAX_CASES + 1));
    xml.push_str("<testsuites><testsuite name='big'>");
    // Repeats of a case count once.
    xml.push_str("<testcase name='t0'/><testcase name='t0'/>");
    for i in 0..MAX_CASES {
        xml.push_str(&format!("<testcase name='t{i}'/>"));
    }
    let mut exactly = xml.clone();
    exactly.push_str("</testsuite></testsuites>");
    assert_eq!(parse(exactly.as_bytes()).map(|c| c.len()), Ok(MAX_CASES));
    xml.push_str("<testcase name='one more'/></testsuite></testsuites>");
    let e = refused(&xml);
    assert_eq!(e, JunitError::TooManyCases(MAX_CASES));
    assert_eq!(e.to_string(), "more than 200000 test cases in one report");
}

#[test]
fn too_deep_and_too_large() {
    let deep = "<testsuite>".repeat(MAX_DEPTH + 1);
    assert!(matches!(refused(&deep), JunitError::TooDeep(_)));
    let ok = format!(
        "{}{}",
        "<testsuite name='s'>".repeat(MAX_DEPTH - 2),
        "</testsuite>".repeat(MAX_DEPTH - 2)
    );
    assert_eq!(read(&ok), vec![]);
    let large = vec![b' '; MAX_REPORT_BYTES + 1];
    assert_eq!(refused(&large), JunitError::TooLarge(MAX_REPORT_BYTES + 1));
}

/// A report of 20,000 cases (about 5 MB), some failed with output: read whole (not timed here;
/// `cargo test --release` reads it in a few milliseconds).
#[test]
fn a_large_report() {
    let mut xml = String::from("<?xml version='1.0' encoding='UTF-8'?>\n<testsuites>\n");
    for suite in 0..100 {
        xml.push_str(&format!(
            "<testsuite name='com.acme.Suite{suite}' timestamp='2024-05-06T07:08:09' tests='200'>\n"
        ));
        for i in 0..200 {
            xml.push_str(&format!(
                "  <testcase name='test{i}' classname='com.acme.Suite{suite}' time='0.{i:03}'>"
            ));
            match i % 50 {
                0 => xml.push_str(&format!(
                    "<failure message='expected {i} but was 0' type='AssertionError'><![CDATA[{}]]></failure><system-out>{}</system-out>",
                    "at com.acme.Thing.method(Thing.java:42)\n".repeat(40),
                    "log line &amp; more\n".repeat(40)
                )),
                1 => xml.push_str("<skipped message='disabled'/>"),
                _ => xml.push_str(&format!("<system-out>{}</system-out>", "ok\n".repeat(50))),
            }
            xml.push_str("</testcase>\n");
        }
        xml.push_str("</testsuite>\n");
    }
    xml.push_str("</testsuites>\n");
    assert!(xml.len() > 4_000_000, "{}", xml.len());
    let cases = read(&xml);
    assert_eq!(
        counts(&cases),
        TestCounts {
            tests: 20_000,
            passed: 19_200,
            failed: 400,
            skipped: 400,
            flaky: 0,
            errors: 0
        }
    );
    let failed = cases.iter().find(|c| c.status == TestStatus::Failed).unwrap();
    assert!(failed.output.as_deref().unwrap().ends_with("log line & more"));
}

// ---- properties ---------------------------------------------------------------------------------

/// Element names the parser knows, and some it does not.
const ELEMENTS: &[&str] = &[
    "testsuites",
    "testsuite",
    "testcase",
    "failure",
    "error",
    "skipped",
    "flakyFailure",
    "flakyError",
    "rerunFailure",
    "rerunError",
    "system-out",
    "system-err",
    "stackTrace",
    "properties",
    "property",
    "html",
];
const ATTRIBUTES: &[&str] = &[
    "name",
    "classname",
    "file",
    "time",
    "timestamp",
    "message",
    "type",
    "tests",
    "x:y",
];
/// Attribute values (escaped), usual and odd.
const VALUES: &[&str] = &[
    "",
    " ",
    "t",
    "a.b.C",
    "1.5",
    "1,234.5",
    "-1",
    "NaN",
    "1e400",
    "2024-01-02T03:04:05",
    "2024-01-02T03:04:05.5+01:00",
    "not a time",
    "&amp;&lt;&#233;&#x1F600;",
    "é∂🚀",
    "\u{0}",
    "&#10;line&#10;",
    "a / b",
];
/// Text (escaped) and markup that keep a document well-formed.
const TEXTS: &[&str] = &[
    "",
    "\n  ",
    "text",
    "a &amp; b",
    "&#233;",
    "<![CDATA[<x> & ]]>",
    "<!-- comment -->",
    "<?pi data?>",
    "\r\n",
    "é∂🚀",
    "\u{0}",
];

#[derive(Debug, Clone)]
enum Node {
    Element(&'static str, Vec<(&'static str, String)>, Vec<Node>),
    Text(String),
}

impl Node {
    fn write(&self, out: &mut String) {
        match self {
            Node::Text(t) => out.push_str(t),
            Node::Element(name, attrs, children) => {
                out.push('<');
                out.push_str(name);
                for (k, v) in attrs {
                    out.push_str(&format!(" {k}=\"{v}\""));
                }
                if children.is_empty() {
                    out.push_str("/>");
                } else {
                    out.push('>');
                    for c in children {
                        c.write(out);
                    }
                    out.push_str(&format!("</{name}>"));
                }
            }
        }
    }
}

fn escaped(s: String) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

fn value() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::sample::select(VALUES).prop_map(str::to_owned),
        2 => ".{0,12}".prop_map(escaped),
        1 => "[a-z]{1000,1100}",
    ]
}

fn element(children: impl Strategy<Value = Vec<Node>>) -> impl Strategy<Value = Node> {
    (
        prop::sample::select(ELEMENTS),
        prop::collection::vec((prop::sample::select(ATTRIBUTES), value()), 0..4),
        children,
    )
        .prop_map(|(name, attrs, children)| Node::Element(name, attrs, children))
}

fn node() -> impl Strategy<Value = Node> {
    let leaf = prop_oneof![
        2 => prop::sample::select(TEXTS).prop_map(|t| Node::Text(t.to_owned())),
        1 => ".{0,16}".prop_map(|t| Node::Text(escaped(t))),
        2 => element(Just(Vec::new())),
    ];
    leaf.prop_recursive(6, 96, 8, |inner| element(prop::collection::vec(inner, 0..8)))
}

const ROOTS: &[&str] = &["testsuites", "testsuite"];

/// A well-formed document with a JUnit root.
fn document() -> impl Strategy<Value = String> {
    (
        prop::sample::select(ROOTS),
        prop::collection::vec((prop::sample::select(ATTRIBUTES), value()), 0..3),
        prop::collection::vec(node(), 0..8),
        any::<bool>(),
    )
        .prop_map(|(root, attrs, children, decl)| {
            let mut out = String::new();
            if decl {
                out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
            }
            Node::Element(root, attrs, children).write(&mut out);
            out
        })
}

/// Any result, and what an `Ok` holds.
fn sound(result: Result<Vec<TestCase>, JunitError>) -> Result<(), TestCaseError> {
    if let Ok(cases) = result {
        well_formed(&cases);
    }
    Ok(())
}

proptest! {
    #![proptest_config(proptest_cases(256))]

    #[test]
    fn no_bytes_make_the_parser_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        sound(parse(&body))?;
        let mut xml = b"<testsuite><testcase name='t'><failure>".to_vec();
        xml.extend(&body);
        sound(parse(&xml))?;
    }

    #[test]
    fn report_like_documents_are_read(doc in document(), cut in any::<prop::sample::Index>()) {
        let cases = parse(doc.as_bytes());
        prop_assert!(cases.is_ok(), "{cases:?}\n{doc}");
        sound(cases)?;
        // The same in UTF-16 reads the same.
        prop_assert_eq!(parse(&utf16(&doc, true)), parse(doc.as_bytes()));
        // Truncated anywhere, it never panics.
        let bytes = doc.as_bytes();
        sound(parse(&bytes[..cut.index(bytes.len() + 1)]))?;
    }
}

/// 200,000 cases under one 1,000-character suite name is a few megabytes of XML but would be
/// 200 MB of names: refused once the names pass their budget.
#[test]
fn a_long_suite_name_repeated_over_many_cases_is_refused() {
    let mut xml = format!("<testsuite name=\"{}\">", "s".repeat(1000));
    for i in 0..40_000 {
        xml.push_str(&format!("<testcase name=\"t{i}\"/>"));
    }
    xml.push_str("</testsuite>");
    assert_eq!(refused(xml), JunitError::TooManyNames(MAX_NAME_BYTES));
}
