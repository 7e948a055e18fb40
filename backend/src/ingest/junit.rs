//! JUnit XML reports, as test runners write them (Surefire and Failsafe, Gradle, pytest, jest-junit,
//! Playwright, gotestsum and go-junit-report, cargo-nextest, PHPUnit, Catch2, mocha, xunit
//! converters…), read into one [`TestCase`] per distinct test.
//!
//! # Shape
//!
//! The root is `<testsuites>` or `<testsuite>`; both nest at any depth (up to [`MAX_DEPTH`] elements
//! in all). A `<testcase>` is identified by a [`TestKey`]:
//! - `suite`: the `name`s of the enclosing `<testsuite>` elements, outermost first, joined by ` / `
//!   (`<testsuites>` names are left out, and so is a `<testsuite>` without a name);
//! - `classname`, `name` and `file`: the testcase's attributes, empty when absent. A testcase with
//!   neither a `name` nor a `classname` (or only blank ones) names nothing and is ignored.
//!
//! Every name is trimmed; one longer than [`MAX_TEST_NAME`] characters keeps a prefix and a digest
//! ([`capped_id`]), so that it stays unique. A suite path is capped level by level: each level caps
//! `parent / name`, the parent being capped already.
//!
//! # Status and attempts
//!
//! Within one `<testcase>`: a `<failure>` makes it failed, an `<error>` an error (the first of them
//! decides), a `<skipped>` skipped, none of those passed. Surefire's and Gradle's reruns are
//! earlier attempts of the same element: each `<flakyFailure>`, `<flakyError>`, `<rerunFailure>` or
//! `<rerunError>` adds one attempt, and a test that passed in the end after any of them is flaky.
//!
//! The same [`TestKey`] appearing several times (gotestsum `--rerun-fails`, pytest-rerunfailures,
//! Playwright retries) is one test with several attempts: a pass and a failure among them make it
//! flaky; failures only (skips aside) make it failed, or an error when the last failing attempt
//! was one; skips only, skipped; passes and skips, passed.
//!
//! pytest is the exception: pytest-rerunfailures writes each attempt it re-runs as an empty
//! `<testcase>`, which reads as a pass, and pytest runs a test only once otherwise. So in a report
//! whose outermost suite is pytest's (`pytest`, its default `junit_suite_name`), a test recorded
//! several times was re-run after failing: its last record decides, and a last pass is flaky.
//!
//! # What is kept
//!
//! - `message`: the failure's, error's or skip's `message` attribute, else its `type`, else the
//!   first line of its text; cut to [`MAX_MESSAGE`] characters. For a flaky test, that of its last
//!   failed attempt.
//! - `output`: for failed, error and flaky tests only, the text of the last failing attempt: the
//!   failure's body, then `system-out`, then `system-err` (headed `--- system-out ---` and so on
//!   when there are several); of a flaky element, its own body, `stackTrace`, `system-out` and
//!   `system-err`. Only its last [`MAX_OUTPUT`] bytes are kept: logs end with the cause.
//! - `duration_seconds`: `time`, in seconds (`1,234.5` read as 1234.5; negative, infinite or
//!   unreadable values are dropped); of the last attempt.
//! - `started_at`: `timestamp` of the testcase, else of the nearest enclosing `<testsuite>` that has
//!   one: RFC 3339, or without a zone (`2024-01-02T03:04:05[.123]`, read as UTC); of the last
//!   attempt.
//!
//! A NUL character, which PostgreSQL cannot store, becomes U+FFFD wherever it is.
//!
//! # What is accepted, what is refused
//!
//! The document is read as a stream of events: no tree is built, and memory grows with the
//! number of distinct tests, not the size of the document. Accepted: a BOM; UTF-8, UTF-16 (with a
//! BOM, or starting `<?xml`) and any encoding an XML declaration names (`ISO-8859-1`,
//! `windows-1252`…), the document being transcoded to UTF-8 first (bytes that are not UTF-8 in a
//! UTF-8 document become U+FFFD); CDATA, comments, processing instructions, character references
//! and the five predefined entities; unknown elements and attributes anywhere; empty reports.
//!
//! Refused, in this order of discovery:
//! - a document type declaration (`<!DOCTYPE`), as soon as it is met: entities are never defined nor
//!   expanded, so that a "billion laughs" document costs nothing ([`JunitError::Dtd`]);
//! - anything that is not well-formed XML: text outside the root, unclosed or mismatched tags,
//!   references to undefined entities, truncated documents ([`JunitError::NotXml`], with the
//!   reason and the byte where it was found, in the document as decoded to UTF-8);
//! - well-formed XML whose root is neither `<testsuites>` nor `<testsuite>` ([`JunitError::NotJunit`]);
//! - more than [`MAX_CASES`] distinct tests, [`MAX_DEPTH`] nested elements, or [`MAX_REPORT_BYTES`].

use std::borrow::Cow;
use std::collections::btree_map::{BTreeMap, Entry};
use std::fmt::Display;

use chrono::{DateTime, NaiveDateTime, Utc};
use quick_xml::encoding::{decode, detect_encoding};
use quick_xml::escape::resolve_xml_entity;
use quick_xml::events::{BytesRef, BytesStart, Event};
use quick_xml::{Decoder, Reader};

use crate::domain::limits::capped_id;
use crate::domain::test_case::{TestCase, TestCounts, TestKey, TestStatus};

/// Largest report read, uncompressed, in bytes (the upload handler checks it too, before).
pub const MAX_REPORT_BYTES: usize = 64 * 1024 * 1024;
/// Most distinct test cases in one report.
pub const MAX_CASES: usize = 200_000;
/// Longest suite path, classname, name or file kept, in characters (a longer one is capped).
pub const MAX_TEST_NAME: usize = 1024;
/// Longest message kept, in characters.
pub const MAX_MESSAGE: usize = 4096;
/// Most output kept per test case, in bytes: its end.
pub const MAX_OUTPUT: usize = 64 * 1024;
/// Most bytes of names (suite path, class, name and file) over a report's distinct tests.
pub const MAX_NAME_BYTES: usize = 32 * 1024 * 1024;
/// Deepest element nesting accepted (a JUnit report nests half a dozen levels; this bounds what a
/// document can make the reader keep per level).
pub const MAX_DEPTH: usize = 256;

/// Why a report was refused; each message is a sentence for the uploader (a 422, or a 413 for
/// [`JunitError::TooManyCases`], [`JunitError::TooManyNames`] and [`JunitError::TooLarge`]).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum JunitError {
    #[error("the report is {0} bytes uncompressed, more than the {MAX_REPORT_BYTES} accepted")]
    TooLarge(usize),
    #[error(
        "document type declarations (DTD) are refused: found <!DOCTYPE {name}> at byte {position} \
         (JUnit reports have none, and their entities are not expanded)"
    )]
    Dtd { name: String, position: u64 },
    #[error("not XML: {reason} at byte {position}")]
    NotXml { reason: String, position: u64 },
    #[error("not XML: the document is not valid {0}")]
    Encoding(&'static str),
    #[error("not a JUnit report: the root element is <{0}>, expected <testsuites> or <testsuite>")]
    NotJunit(String),
    #[error("elements are nested more than {MAX_DEPTH} deep at byte {0}")]
    TooDeep(u64),
    /// The limit, [`MAX_CASES`].
    #[error("more than {0} test cases in one report")]
    TooManyCases(usize),
    /// The limit, [`MAX_NAME_BYTES`].
    #[error("the test names of the report (suite path, class, name and file of each test) take more than {0} bytes")]
    TooManyNames(usize),
}

impl JunitError {
    fn not_xml(reason: impl Display, position: u64) -> Self {
        JunitError::NotXml {
            reason: shorten(&reason.to_string(), 200),
            position,
        }
    }
}

/// The test cases of a report, one per distinct [`TestKey`], sorted by it. See the module
/// documentation for the rules.
pub fn parse(xml: &[u8]) -> Result<Vec<TestCase>, JunitError> {
    if xml.len() > MAX_REPORT_BYTES {
        return Err(JunitError::TooLarge(xml.len()));
    }
    let (text, base) = to_utf8(xml)?;
    let mut reader = Reader::from_str(&text);
    // The defaults are what is needed: end tags checked against start tags, text kept as is,
    // `&` outside a reference refused, and no entity ever expanded by the reader itself.
    let decoder = reader.decoder();
    let mut report = Report::default();
    loop {
        let at = base + reader.buffer_position();
        let event = reader
            .read_event()
            .map_err(|e| JunitError::not_xml(e, base + reader.error_position()))?;
        match event {
            Event::Start(e) => report.start(&e, decoder, at)?,
            Event::Empty(e) => {
                report.start(&e, decoder, at)?;
                report.end()?;
            }
            Event::End(_) => report.end()?,
            Event::Text(t) => report.text(&t.xml10_content().map_err(|e| JunitError::not_xml(e, at))?, at)?,
            Event::CData(t) => {
                report.text(&t.xml10_content().map_err(|e| JunitError::not_xml(e, at))?, at)?
            }
            Event::GeneralRef(r) => report.text(&resolve(&r, at)?, at)?,
            Event::DocType(d) => {
                let d = d.decode().unwrap_or_default();
                let name = d
                    .split(|c: char| c.is_whitespace() || c == '[')
                    .next()
                    .unwrap_or_default();
                return Err(JunitError::Dtd {
                    name: shorten(name, 64),
                    position: at,
                });
            }
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) => {}
            Event::Eof => return report.finish(base + reader.buffer_position()),
        }
    }
}

/// The counts of a report's test cases, as the upload answers them.
pub fn counts(cases: &[TestCase]) -> TestCounts {
    TestCounts::of(cases.iter().map(|c| &c.status))
}

// ---- encoding -----------------------------------------------------------------------------------

/// The document as UTF-8, and how many bytes of it were skipped first (a UTF-8 BOM), to report
/// positions in the original. UTF-16 is recognized by its BOM, or by `<?` in UTF-16 when there is
/// none; an ASCII-compatible encoding other than UTF-8 by the XML declaration that names it.
fn to_utf8(xml: &[u8]) -> Result<(Cow<'_, str>, u64), JunitError> {
    let (detected, bom) = detect_encoding(xml).map_or((None, 0), |(e, bom)| (Some(e), bom));
    let body = xml.get(bom..).unwrap_or_default();
    let declared = || match Reader::from_reader(body).read_event() {
        Ok(Event::Decl(decl)) => decl.encoder(),
        _ => None,
    };
    let encoding = match detected {
        Some(e) if e.name().starts_with("UTF-16") => Some(e),
        // A UTF-8 BOM wins over the declaration.
        Some(_) if bom > 0 => None,
        // The bytes are ASCII-compatible here: a declared UTF-16 would be a mistake.
        _ => declared().filter(|e| e.name() != "UTF-8" && !e.name().starts_with("UTF-16")),
    };
    match encoding {
        None => Ok((String::from_utf8_lossy(body), bom as u64)),
        Some(e) => decode(body, e)
            .map(|text| (Cow::Owned(text.into_owned()), 0))
            .map_err(|_| JunitError::Encoding(e.name())),
    }
}

/// The text a reference stands for: a character reference, or one of the five predefined
/// entities. Any other entity is undefined (there is no DTD to define it): not XML.
fn resolve(r: &BytesRef<'_>, at: u64) -> Result<String, JunitError> {
    let bad = |e: &dyn Display| JunitError::not_xml(e, at);
    if let Some(c) = r.resolve_char_ref().map_err(|e| bad(&e))? {
        return Ok(c.to_string());
    }
    let name = r.decode().map_err(|e| bad(&e))?;
    resolve_xml_entity(&name)
        .map(str::to_owned)
        .ok_or_else(|| bad(&format_args!("undefined entity &{};", shorten(&name, 64))))
}

// ---- the event stream ---------------------------------------------------------------------------

/// What an open element is.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Frame {
    /// `<testsuites>`.
    Suites,
    /// `<testsuite>` (with its entry in [`Report::suites`]).
    Suite,
    /// `<testcase>` (the one in [`Report::case`]).
    Case,
    /// A flaky or rerun element of the current case.
    Retry,
    /// Anything else, its text going to a part of the current case, or nowhere.
    Other(Option<Sink>),
}

/// Where the text of an element goes.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Sink {
    Failure,
    Skipped,
    Out,
    Err,
    RetryBody,
    RetryOut,
    RetryErr,
}

impl Frame {
    fn sink(self) -> Option<Sink> {
        match self {
            Frame::Retry => Some(Sink::RetryBody),
            Frame::Other(sink) => sink,
            Frame::Suites | Frame::Suite | Frame::Case => None,
        }
    }
}

/// An open `<testsuite>`: its path (capped) and the timestamp its cases inherit.
struct Suite {
    path: String,
    started_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Default, PartialEq)]
enum Root {
    /// Not met yet.
    #[default]
    None,
    Junit,
    /// Another element: the rest is read to tell not-XML from not-JUnit.
    Foreign(String),
    /// The root element is closed.
    Closed,
}

/// The reader's state: the open elements, the case being read, and the cases read.
#[derive(Default)]
struct Report {
    root: Root,
    frames: Vec<Frame>,
    suites: Vec<Suite>,
    case: Option<Attempt>,
    /// Sorted as they are returned (a hash map would be re-hashed as it grows, then sorted).
    cases: BTreeMap<TestKey, Merged>,
    /// Bytes of the distinct cases' names: a long suite name repeated over many small cases
    /// would otherwise make a small document hold far more memory than its size.
    name_bytes: usize,
}

impl Report {
    fn start(&mut self, e: &BytesStart<'_>, decoder: Decoder, at: u64) -> Result<(), JunitError> {
        // Every attribute is read, to refuse malformed ones and undefined entities anywhere.
        let attrs = Attrs::of(e, decoder, at)?;
        if self.frames.len() >= MAX_DEPTH {
            return Err(JunitError::TooDeep(at));
        }
        let name = e.local_name();
        let frame = match (&self.root, self.frames.last().copied()) {
            (Root::None, _) => match name.as_ref() {
                b"testsuites" => {
                    self.root = Root::Junit;
                    Frame::Suites
                }
                b"testsuite" => {
                    self.root = Root::Junit;
                    self.push_suite(&attrs);
                    Frame::Suite
                }
                _ => {
                    self.root = Root::Foreign(shorten(&String::from_utf8_lossy(e.name().as_ref()), 64));
                    Frame::Other(None)
                }
            },
            (Root::Junit, Some(parent)) => self.child(parent, name.as_ref(), &attrs),
            (Root::Junit, None) | (Root::Foreign(_), _) => Frame::Other(None),
            (Root::Closed, _) => {
                let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
                let reason = format!("a second root element <{}>", shorten(&name, 64));
                return Err(JunitError::not_xml(reason, at));
            }
        };
        self.frames.push(frame);
        Ok(())
    }

    /// Opens the child `name` of `parent`.
    fn child(&mut self, parent: Frame, name: &[u8], attrs: &Attrs<'_>) -> Frame {
        match (parent, name) {
            (Frame::Suites | Frame::Suite, b"testsuites") => Frame::Suites,
            (Frame::Suites | Frame::Suite, b"testsuite") => {
                self.push_suite(attrs);
                Frame::Suite
            }
            (Frame::Suites | Frame::Suite, b"testcase") => {
                self.case = Some(Attempt::new(attrs, self.suites.last()));
                Frame::Case
            }
            (Frame::Case, _) => self
                .case
                .as_mut()
                .and_then(|case| case.child(name, attrs))
                .unwrap_or(Frame::Other(None)),
            (Frame::Retry, b"system-out") => Frame::Other(Some(Sink::RetryOut)),
            (Frame::Retry, b"system-err") => Frame::Other(Some(Sink::RetryErr)),
            (Frame::Retry, b"stackTrace") => Frame::Other(Some(Sink::RetryBody)),
            // Unknown, or known in another place: its text goes where its parent's goes.
            (parent, _) => Frame::Other(parent.sink()),
        }
    }

    fn end(&mut self) -> Result<(), JunitError> {
        match self.frames.pop() {
            Some(Frame::Suite) => {
                self.suites.pop();
            }
            Some(Frame::Case) => {
                if let Some(attempt) = self.case.take() {
                    self.record(attempt)?;
                }
            }
            _ => {}
        }
        if self.frames.is_empty() && self.root == Root::Junit {
            self.root = Root::Closed;
        }
        Ok(())
    }

    fn text(&mut self, text: &str, at: u64) -> Result<(), JunitError> {
        if self.frames.is_empty() {
            if text.trim().is_empty() {
                return Ok(());
            }
            let place = if self.root == Root::None {
                "before"
            } else {
                "after"
            };
            return Err(JunitError::not_xml(format!("text {place} the root element"), at));
        }
        let top = self.frames.last().copied();
        // A flaky element's own text is its stack trace (nextest), or formatting around its
        // children (Surefire: `<stackTrace>`, `<system-out>`…): that is left out.
        if top == Some(Frame::Retry) && text.trim().is_empty() {
            return Ok(());
        }
        let (Some(sink), Some(case)) = (top.and_then(Frame::sink), &mut self.case) else {
            return Ok(());
        };
        let target = match sink {
            Sink::Failure => case.failure.as_mut().map(|p| &mut p.body),
            Sink::Skipped => case.skipped.as_mut().map(|p| &mut p.body),
            Sink::Out => Some(&mut case.out),
            Sink::Err => Some(&mut case.err),
            Sink::RetryBody => case.retry.as_mut().map(|p| &mut p.body),
            Sink::RetryOut => case.retry.as_mut().map(|p| &mut p.out),
            Sink::RetryErr => case.retry.as_mut().map(|p| &mut p.err),
        };
        if let Some(target) = target {
            target.push(text);
        }
        Ok(())
    }

    fn finish(self, at: u64) -> Result<Vec<TestCase>, JunitError> {
        if !self.frames.is_empty() {
            return Err(JunitError::not_xml("unexpected end of document", at));
        }
        match self.root {
            Root::None => Err(JunitError::not_xml("no root element", at)),
            Root::Foreign(root) => Err(JunitError::NotJunit(root)),
            Root::Junit | Root::Closed => {
                Ok(self.cases.into_iter().map(|(key, m)| m.into_case(key)).collect())
            }
        }
    }

    fn push_suite(&mut self, attrs: &Attrs<'_>) {
        let parent = self.suites.last();
        let name = attrs.name.as_deref().map(str::trim).unwrap_or_default();
        let path = match parent.map(|p| p.path.as_str()).unwrap_or_default() {
            "" => capped(name),
            _ if name.is_empty() => parent.map(|p| p.path.clone()).unwrap_or_default(),
            parent => capped(&format!("{parent} / {name}")),
        };
        let started_at = attrs
            .timestamp
            .as_deref()
            .and_then(timestamp)
            .or_else(|| parent.and_then(|p| p.started_at));
        self.suites.push(Suite { path, started_at });
    }

    /// Adds one `<testcase>` element to the cases read.
    fn record(&mut self, mut attempt: Attempt) -> Result<(), JunitError> {
        let Some(key) = attempt.key.take() else {
            return Ok(());
        };
        let outcome = attempt.outcome();
        let len = self.cases.len();
        match self.cases.entry(key) {
            Entry::Occupied(mut e) => e.get_mut().add(outcome),
            Entry::Vacant(e) => {
                if len >= MAX_CASES {
                    return Err(JunitError::TooManyCases(MAX_CASES));
                }
                let k = e.key();
                self.name_bytes += k.suite.len() + k.classname.len() + k.name.len() + k.file.len();
                if self.name_bytes > MAX_NAME_BYTES {
                    return Err(JunitError::TooManyNames(MAX_NAME_BYTES));
                }
                e.insert(Merged::default()).add(outcome);
            }
        }
        Ok(())
    }
}

/// How a failure, error or rerun element is named in an output.
fn label(name: &[u8]) -> &'static str {
    match name {
        b"error" => "error",
        b"flakyFailure" => "flakyFailure",
        b"flakyError" => "flakyError",
        b"rerunFailure" => "rerunFailure",
        b"rerunError" => "rerunError",
        _ => "failure",
    }
}

/// The attributes read from any element (each unescaped; the others are checked and dropped).
#[derive(Default)]
struct Attrs<'a> {
    name: Option<Cow<'a, str>>,
    classname: Option<Cow<'a, str>>,
    file: Option<Cow<'a, str>>,
    time: Option<Cow<'a, str>>,
    timestamp: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
    kind: Option<Cow<'a, str>>,
}

impl<'a> Attrs<'a> {
    fn of(e: &'a BytesStart<'_>, decoder: Decoder, at: u64) -> Result<Self, JunitError> {
        let mut attrs = Attrs::default();
        let mut iter = e.attributes();
        // The check for duplicates is quadratic in the number of attributes: an element with a
        // million of them would take hours. A repeated attribute keeps its last value.
        iter.with_checks(false);
        for attr in iter {
            let attr = attr.map_err(|e| JunitError::not_xml(format!("malformed attribute: {e}"), at))?;
            let value = attr
                .decode_and_unescape_value_with(decoder, resolve_xml_entity)
                .map_err(|e| JunitError::not_xml(e, at))?;
            let slot = match attr.key.as_ref() {
                b"name" => &mut attrs.name,
                b"classname" => &mut attrs.classname,
                b"file" => &mut attrs.file,
                b"time" => &mut attrs.time,
                b"timestamp" => &mut attrs.timestamp,
                b"message" => &mut attrs.message,
                b"type" => &mut attrs.kind,
                _ => continue,
            };
            *slot = Some(value);
        }
        Ok(attrs)
    }
}

// ---- one testcase element -----------------------------------------------------------------------

/// A `<testcase>` element being read: one attempt, or several with its flaky or rerun elements.
struct Attempt {
    /// `None`: the testcase names nothing, it is ignored.
    key: Option<TestKey>,
    duration_seconds: Option<f64>,
    started_at: Option<DateTime<Utc>>,
    /// The first `<failure>` or `<error>` (and the text of all of them).
    failure: Option<Part>,
    skipped: Option<Part>,
    out: Text,
    err: Text,
    /// Flaky and rerun elements.
    retries: u32,
    /// The last of them.
    retry: Option<Part>,
}

/// A failure, error, skip or rerun: its `message` (or `type`) attribute and its text.
struct Part {
    label: &'static str,
    message: Option<String>,
    body: Text,
    out: Text,
    err: Text,
}

impl Part {
    fn new(label: &'static str, attrs: &Attrs<'_>) -> Self {
        let message = [&attrs.message, &attrs.kind]
            .into_iter()
            .flatten()
            .map(|m| m.trim())
            .find(|m| !m.is_empty())
            .map(message_text);
        Part {
            label,
            message,
            body: Text::default(),
            out: Text::default(),
            err: Text::default(),
        }
    }

    /// Its message, or the first line of its text.
    fn take_message(&mut self) -> Option<String> {
        self.message.take().or_else(|| {
            let line = std::mem::take(&mut self.body.first_line);
            (!line.is_empty()).then(|| message_text(&line))
        })
    }

    /// Its text, then `out` and `err`, as one output.
    fn output(&self, out: &Text, err: &Text) -> Option<String> {
        output(&[
            (self.label, &self.body.tail),
            ("system-out", &out.tail),
            ("system-err", &err.tail),
        ])
    }
}

/// What one `<testcase>` element amounted to.
struct Outcome {
    status: TestStatus,
    attempts: u32,
    duration_seconds: Option<f64>,
    started_at: Option<DateTime<Utc>>,
    message: Option<String>,
    output: Option<String>,
}

impl Attempt {
    fn new(attrs: &Attrs<'_>, suite: Option<&Suite>) -> Self {
        let text = |v: &Option<Cow<'_, str>>| v.as_deref().map(str::trim).unwrap_or_default().to_owned();
        let (classname, name) = (text(&attrs.classname), text(&attrs.name));
        // Neither a name nor a class (absent or blank): nothing identifies the test, it is
        // ignored (its children are still read, to check them, but go nowhere).
        let key = (!classname.is_empty() || !name.is_empty()).then(|| TestKey {
            suite: suite.map(|s| s.path.clone()).unwrap_or_default(),
            classname: capped(&classname),
            name: capped(&name),
            file: capped(&text(&attrs.file)),
        });
        Attempt {
            key,
            duration_seconds: attrs.time.as_deref().and_then(seconds),
            started_at: attrs
                .timestamp
                .as_deref()
                .and_then(timestamp)
                .or_else(|| suite.and_then(|s| s.started_at)),
            failure: None,
            skipped: None,
            out: Text::default(),
            err: Text::default(),
            retries: 0,
            retry: None,
        }
    }

    /// Opens the child `name` of the testcase, if it is one that counts.
    fn child(&mut self, name: &[u8], attrs: &Attrs<'_>) -> Option<Frame> {
        let sink = match name {
            b"failure" | b"error" => {
                match &mut self.failure {
                    // A second failure or error: its text follows the first's.
                    Some(first) => first.body.push("\n"),
                    None => self.failure = Some(Part::new(label(name), attrs)),
                }
                Sink::Failure
            }
            b"skipped" => {
                self.skipped.get_or_insert_with(|| Part::new("skipped", attrs));
                Sink::Skipped
            }
            b"system-out" => Sink::Out,
            b"system-err" => Sink::Err,
            b"flakyFailure" | b"flakyError" | b"rerunFailure" | b"rerunError" => {
                self.retries = self.retries.saturating_add(1);
                self.retry = Some(Part::new(label(name), attrs));
                return Some(Frame::Retry);
            }
            _ => return None,
        };
        Some(Frame::Other(Some(sink)))
    }

    fn outcome(self) -> Outcome {
        let (status, message, output) = match (self.failure, self.skipped, self.retry) {
            (Some(mut failure), _, _) => {
                let status = if failure.label == "error" {
                    TestStatus::Error
                } else {
                    TestStatus::Failed
                };
                let output = failure.output(&self.out, &self.err);
                (status, failure.take_message(), output)
            }
            (None, Some(mut skipped), _) => (TestStatus::Skipped, skipped.take_message(), None),
            // Passed in the end, after failed attempts: those of the last one.
            (None, None, Some(mut retry)) => {
                let output = retry.output(&retry.out, &retry.err);
                (TestStatus::Flaky, retry.take_message(), output)
            }
            (None, None, None) => (TestStatus::Passed, None, None),
        };
        Outcome {
            status,
            attempts: self.retries.saturating_add(1),
            duration_seconds: self.duration_seconds,
            started_at: self.started_at,
            message,
            output,
        }
    }
}

// ---- several testcase elements of the same test -------------------------------------------------

/// The testcase elements of one test read so far.
#[derive(Default)]
struct Merged {
    attempts: u32,
    /// `<testcase>` elements merged, and the status of the last one.
    records: u32,
    last: Option<TestStatus>,
    /// Some attempt passed (a flaky element too).
    passed: bool,
    /// Some attempt failed (a flaky element too).
    failed: bool,
    /// Failed or error: the status of the last element that failed in the end.
    last_failure: Option<TestStatus>,
    /// Message and output of the last element that failed (in the end or before passing).
    failure: (Option<String>, Option<String>),
    /// The reason of the last skipped element.
    skip_message: Option<String>,
    duration_seconds: Option<f64>,
    started_at: Option<DateTime<Utc>>,
}

impl Merged {
    fn add(&mut self, o: Outcome) {
        self.attempts = self.attempts.saturating_add(o.attempts);
        self.records = self.records.saturating_add(1);
        self.last = Some(o.status);
        self.duration_seconds = o.duration_seconds;
        self.started_at = o.started_at;
        match o.status {
            TestStatus::Passed => self.passed = true,
            TestStatus::Skipped => self.skip_message = o.message,
            TestStatus::Failed | TestStatus::Error | TestStatus::Flaky => {
                self.failed = true;
                if o.status == TestStatus::Flaky {
                    self.passed = true;
                } else {
                    self.last_failure = Some(o.status);
                }
                self.failure = (o.message, o.output);
            }
        }
    }

    fn into_case(self, key: TestKey) -> TestCase {
        let pytest_rerun = self.records > 1 && (key.suite == "pytest" || key.suite.starts_with("pytest / "));
        let status = match (self.passed, self.failed) {
            _ if pytest_rerun => match self.last.unwrap_or(TestStatus::Passed) {
                TestStatus::Passed => TestStatus::Flaky,
                last => last,
            },
            (true, true) => TestStatus::Flaky,
            (false, true) => self.last_failure.unwrap_or(TestStatus::Failed),
            (true, false) => TestStatus::Passed,
            (false, false) => TestStatus::Skipped,
        };
        let (message, output) = match status {
            TestStatus::Failed | TestStatus::Error | TestStatus::Flaky => self.failure,
            TestStatus::Skipped => (self.skip_message, None),
            TestStatus::Passed => (None, None),
        };
        TestCase {
            key,
            status,
            attempts: self.attempts,
            duration_seconds: self.duration_seconds,
            started_at: self.started_at,
            message,
            output,
        }
    }
}

// ---- text ---------------------------------------------------------------------------------------

/// The text of an element, as much of it as is used: its first line (for a message) and its last
/// [`MAX_OUTPUT`] bytes at least (for an output), however long it is.
#[derive(Default)]
struct Text {
    /// The first non-blank line, up to [`MAX_MESSAGE`] characters.
    first_line: String,
    /// The first line is complete (or as long as it will be kept).
    first_line_done: bool,
    first_line_chars: usize,
    tail: String,
}

impl Text {
    fn push(&mut self, s: &str) {
        let s = no_nul(s);
        if !self.first_line_done {
            for c in s.chars() {
                if self.first_line.is_empty() && c.is_whitespace() {
                    continue;
                }
                if c == '\n' || c == '\r' || self.first_line_chars == MAX_MESSAGE {
                    self.first_line_done = true;
                    break;
                }
                self.first_line.push(c);
                self.first_line_chars += 1;
            }
        }
        if s.len() >= MAX_OUTPUT {
            self.tail.clear();
            self.tail.push_str(end(&s, MAX_OUTPUT));
        } else {
            self.tail.push_str(&s);
            if self.tail.len() > 2 * MAX_OUTPUT {
                let start = self.tail.len() - end(&self.tail, MAX_OUTPUT).len();
                self.tail.drain(..start);
            }
        }
    }
}

/// The parts that have text, trimmed of blank lines, one after the other (each headed by its
/// label when there are several); the last [`MAX_OUTPUT`] bytes of that.
fn output(parts: &[(&str, &String)]) -> Option<String> {
    let parts: Vec<(&str, &str)> = parts
        .iter()
        .map(|(label, text)| (*label, trim_blank_lines(text)))
        .filter(|(_, text)| !text.is_empty())
        .collect();
    let joined = match parts.as_slice() {
        [] => return None,
        [(_, text)] => (*text).to_owned(),
        parts => {
            let mut joined = String::new();
            for (label, text) in parts {
                if !joined.is_empty() {
                    joined.push('\n');
                }
                joined.push_str(&format!("--- {label} ---\n{text}"));
            }
            joined
        }
    };
    Some(end(&joined, MAX_OUTPUT).to_owned())
}

/// The last `max` bytes of `s` at most, from a character boundary.
fn end(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    s.get(start..).unwrap_or_default()
}

/// `s` without its trailing whitespace and its leading blank lines (the indentation of its first
/// line is kept).
fn trim_blank_lines(s: &str) -> &str {
    let s = s.trim_end();
    let content = s.trim_start();
    let blank = &s[..s.len() - content.len()];
    match blank.rfind('\n') {
        Some(i) => &s[i + 1..],
        None => s,
    }
}

/// A message: trimmed, cut to [`MAX_MESSAGE`] characters.
fn message_text(s: &str) -> String {
    crate::domain::limits::cut(no_nul(s.trim()).into_owned(), MAX_MESSAGE)
}

/// A name: capped to [`MAX_TEST_NAME`] characters with a digest.
fn capped(s: &str) -> String {
    capped_id(no_nul(s).into_owned(), MAX_TEST_NAME)
}

/// `s` with each NUL character (which PostgreSQL cannot store) replaced by U+FFFD.
fn no_nul(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// At most `max` characters of `s`, for an error message.
fn shorten(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_owned(),
    }
}

// ---- attribute values ---------------------------------------------------------------------------

/// A `time` attribute: seconds, possibly with thousands separators (`1,234.5`); negative, infinite
/// and unreadable values are dropped.
fn seconds(s: &str) -> Option<f64> {
    let s = s.trim();
    let value: f64 = if s.contains(',') {
        s.replace(',', "").parse().ok()?
    } else {
        s.parse().ok()?
    };
    // `+ 0.0` turns -0 into 0.
    (value.is_finite() && value >= 0.0).then_some(value + 0.0)
}

/// A `timestamp` attribute: RFC 3339 (and the forms [`super::parse_time`] reads), or an ISO 8601
/// time without a zone, read as UTC.
fn timestamp(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    super::parse_time(s).or_else(|| {
        ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
            .into_iter()
            .find_map(|format| NaiveDateTime::parse_from_str(s, format).ok())
            .map(|t| t.and_utc())
    })
}

#[cfg(test)]
mod tests;
