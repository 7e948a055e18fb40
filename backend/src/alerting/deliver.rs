//! Delivery of a [`Notice`]: the Slack Block Kit message, the generic webhook body and its signature,
//! and one POST whose outcome is classified into a [`Delivery`] (sent, retry later, or permanent).
//!
//! Nothing here retries or sleeps: the outbox worker decides when to try again. The HTTP client, and
//! so its timeout and redirect policy, is the caller's; a client that does not follow redirects is
//! recommended (a followed 301/302 turns the POST into a GET without the body).

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use cicd_monitor_crds::Severity;
use hmac::{Hmac, Mac};
use reqwest::header::{CONTENT_TYPE, RETRY_AFTER, USER_AGENT};
use reqwest::{StatusCode, Url};
use secrecy::ExposeSecret;
use serde_json::{json, Value};
use sha2::Sha256;

use super::{Delivery, Notice, NoticeKind, Target};

/// The header carrying `sha256=<hex HMAC-SHA256 of the body>` on generic webhooks with a secret.
pub const SIGNATURE_HEADER: &str = "X-CICD-Signature-256";

const AGENT: &str = concat!("ci-cd-monitor/", env!("CARGO_PKG_VERSION"));

// Slack's Block Kit limits. Lengths are counted in UTF-16 code units, which is never less than the
// number of characters, so the limits hold whichever way Slack counts.
const MAX_BLOCKS: usize = 50;
const HEADER_MAX: usize = 150;
const SECTION_TEXT_MAX: usize = 3000;
const MAX_FIELDS: usize = 10;
const FIELD_MAX: usize = 2000;
const BUTTON_URL_MAX: usize = 3000;
/// Our own caps, well inside Slack's (40,000 for `text`, 3,000 for a context element).
const TEXT_MAX: usize = 3000;
const CONTEXT_PART_MAX: usize = 200;

/// How much of an error response is read, and how much of it ends up in a reason.
const BODY_READ_MAX: usize = 4096;
const REASON_BODY_MAX: usize = 200;

/// What a test message says, once (its fallback text).
const TEST_MESSAGE: &str = "🧪 Test message from ci-cd-monitor: if you can read this, the integration works.";

/// The Slack incoming-webhook body for `n`: `text` (the notification and the fallback) and `blocks`
/// (a `header`, a `section` with the condition, summary and up to 10 fields, a `context` line and an
/// `actions` block with link buttons for the http(s) URLs present).
///
/// Every text that comes from a rule, a payload or a user is escaped for mrkdwn (`&`, `<`, `>`), so
/// it can neither mention (`<!channel>`) nor link; plain-text objects (the header, button labels) are
/// not parsed by Slack and are left as they are. Long values are cut at a character boundary with `…`
/// so that every limit holds.
pub fn slack_message(n: &Notice) -> Value {
    let rule = esc(&n.rule_name, 300);
    let group = esc(&group_line(n), 600);
    let condition = esc(&n.condition, 1000);
    let severity = n.severity.as_str();
    let sev_emoji = severity_emoji(n.severity);
    let started = utc_minute(n.started_at);
    let duration = n
        .resolved_at
        .map(|r| human_duration((r - n.started_at).num_seconds()));
    let on = if group.is_empty() {
        String::new()
    } else {
        format!(" — {group}")
    };

    let text = match n.kind {
        NoticeKind::Firing => format!("{sev_emoji} [{severity}] {rule}{on}: {condition}"),
        NoticeKind::Repeat => {
            format!("🔁 [{severity}] {rule}{on}: still firing since {started} ({condition})")
        }
        NoticeKind::Resolved => match &duration {
            Some(d) => format!("✅ resolved: [{severity}] {rule}{on} (after {d})"),
            None => format!("✅ resolved: [{severity}] {rule}{on}"),
        },
        NoticeKind::Test => TEST_MESSAGE.to_owned(),
    };

    let header = match n.kind {
        NoticeKind::Firing => format!("{sev_emoji} {}", n.rule_name),
        NoticeKind::Repeat => format!("🔁 Still firing: {}", n.rule_name),
        NoticeKind::Resolved => format!("✅ Resolved: {}", n.rule_name),
        NoticeKind::Test => "🧪 Test message from ci-cd-monitor".to_owned(),
    };

    let headline = match n.kind {
        NoticeKind::Firing => format!("{sev_emoji} *Firing:* {condition}"),
        NoticeKind::Repeat => {
            format!(
                "🔁 *Still firing* since {}: {condition}",
                slack_date(n.started_at)
            )
        }
        NoticeKind::Resolved => match &duration {
            Some(d) => format!("✅ *Resolved* after {d} (was: {condition})"),
            None => format!("✅ *Resolved* (was: {condition})"),
        },
        NoticeKind::Test => "If you can read this, the integration works. Nothing is firing: alerts \
                             will arrive here."
            .to_owned(),
    };
    let section_text = match n.summary.as_deref().filter(|s| !s.trim().is_empty()) {
        Some(summary) => format!("{headline}\n{}", esc(summary, 1800)),
        None => headline,
    };

    let mut section = json!({
        "type": "section",
        "text": mrkdwn(truncate(&section_text, SECTION_TEXT_MAX)),
    });
    let fields = fields(n, duration.as_deref());
    // Slack refuses an empty `fields` array: a section without fields has none.
    if !fields.is_empty() {
        section["fields"] = fields.into();
    }
    let mut blocks = vec![
        json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(&header, HEADER_MAX), "emoji": true}
        }),
        section,
        json!({"type": "context", "elements": context(n)}),
    ];
    let buttons = buttons(n);
    if !buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": buttons}));
    }
    blocks.truncate(MAX_BLOCKS);

    json!({"text": truncate(&text, TEXT_MAX), "blocks": blocks})
}

/// The body POSTed to a generic webhook: a stable JSON document, version `"1"`. Every key is always
/// present (`null` when unknown); new keys may be added within a version, none removed or changed.
///
/// ```json
/// {
///   "version": "1",
///   "kind": "firing",
///   "rule": {
///     "id": 7,
///     "name": "main is red",
///     "severity": "critical",
///     "condition": "3 consecutive failures",
///     "summary": "The main branch of acme/api is failing",
///     "runbook_url": "https://runbooks.example.com/ci#main-red"
///   },
///   "group": {"branch": "main", "repo": "acme/api", "workflow": "ci"},
///   "value": "3",
///   "threshold": "3",
///   "incident_id": 42,
///   "started_at": "2025-08-27T12:00:00Z",
///   "resolved_at": null,
///   "run": {"id": "30433642", "url": "https://github.com/acme/api/actions/runs/30433642"},
///   "dashboard_url": "https://cicd.example.com/?repo=acme%2Fapi&branch=main",
///   "environment": "production"
/// }
/// ```
///
/// - `kind`: `firing` (a group started failing, or another run failed), `repeat` (still firing after
///   the rule's repeat interval), `resolved` (back to green), `test` (sent from the UI or
///   `POST /api/alerts/test`).
/// - `rule.severity`: `info`, `warning` or `critical`.
/// - `group`: the labels the rule groups by (`repo`, `workflow`, `branch`); `{}` when it does not.
///   A job condition's group is its job (`repo`, `workflow`, `job`), a runner condition's its
///   label set (`labels`: `gpu,self-hosted`), a test condition's its test (`repo`, `test`:
///   `classname::name`, `suite` when it has one, `test_id`).
/// - `value`, `threshold`: already formatted with their unit (`42%`, `12m 30s`).
/// - `started_at`, `resolved_at`: RFC 3339, UTC, whole seconds.
///
/// The request is `POST` with `Content-Type: application/json` and `User-Agent: ci-cd-monitor/<version>`.
/// When the integration has a secret, [`SIGNATURE_HEADER`] (`X-CICD-Signature-256`) carries
/// `sha256=` + the lowercase hex HMAC-SHA256 of the exact body bytes under the secret; verify it over
/// the raw body before parsing, with a constant-time comparison. Answer with any `2xx` to acknowledge;
/// `429` (with `Retry-After` in seconds), `408` and `5xx` are retried later; any other status is a
/// permanent failure shown on the integration.
pub fn webhook_body(n: &Notice) -> Value {
    json!({
        "version": "1",
        "kind": kind_str(n.kind),
        "rule": {
            "id": n.rule_id,
            "name": n.rule_name,
            "severity": n.severity.as_str(),
            "condition": n.condition,
            "summary": n.summary,
            "runbook_url": n.runbook_url,
        },
        "group": n.labels,
        "value": n.value,
        "threshold": n.threshold,
        "incident_id": n.incident_id,
        "started_at": rfc3339(n.started_at),
        "resolved_at": n.resolved_at.map(rfc3339),
        "run": {"id": n.run_id, "url": n.run_url},
        "dashboard_url": n.dashboard_url,
        "environment": n.environment,
    })
}

/// `sha256=` + the lowercase hex HMAC-SHA256 of `body` under `secret`: the value of
/// [`SIGNATURE_HEADER`].
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    #[allow(clippy::expect_used)]
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes a key of any length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// One POST of `notice` to `target`, classified:
///
/// - any `2xx` → [`Delivery::Sent`] (Slack answers `200 ok`);
/// - `429` → [`Delivery::Retry`] with `after` from `Retry-After` (seconds) when given;
/// - `5xx` and `408` → [`Delivery::Retry`] (with `Retry-After` if the receiver sent one, else `None`);
/// - timeouts, connection and other transport errors → [`Delivery::Retry`] with `after: None`;
/// - any other status (`4xx`, an unfollowed `3xx`) and an unusable URL → [`Delivery::Permanent`].
///
/// Reasons are for people: Slack's plain-text error code (`no_service`, `channel_is_archived`, …) or
/// `HTTP <status>: <up to 200 characters of the body>`. They never contain the target URL, which for
/// Slack is the secret itself.
pub async fn send(client: &reqwest::Client, target: &Target, notice: &Notice) -> Delivery {
    let (url, body, signature, slack) = match target {
        Target::Slack { url } => (url.expose_secret(), slack_message(notice).to_string(), None, true),
        Target::Webhook { url, hmac_secret } => {
            let body = webhook_body(notice).to_string();
            let signature = hmac_secret
                .as_ref()
                .map(|secret| sign(secret.expose_secret().as_bytes(), body.as_bytes()));
            (url.expose_secret(), body, signature, false)
        }
    };
    let mut request = client
        .post(url)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, AGENT);
    if let Some(signature) = signature {
        request = request.header(SIGNATURE_HEADER, signature);
    }
    let outcome = match request.body(body).send().await {
        Ok(response) => classify(response, slack).await,
        Err(e) => from_error(e),
    };
    redact(outcome, url)
}

async fn classify(mut response: reqwest::Response, slack: bool) -> Delivery {
    let status = response.status();
    if status.is_success() {
        return Delivery::Sent;
    }
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(Duration::from_secs);
    let body = one_line(&read_prefix(&mut response).await, REASON_BODY_MAX);
    let detail = if body.is_empty() {
        format!("HTTP {}", status.as_u16())
    } else {
        format!("HTTP {}: {body}", status.as_u16())
    };
    if status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
        || status.is_server_error()
    {
        Delivery::Retry {
            after: retry_after,
            reason: detail,
        }
    } else if status.is_client_error() {
        let reason = if slack && is_error_code(&body) {
            body
        } else {
            detail
        };
        Delivery::Permanent { reason }
    } else {
        Delivery::Permanent {
            reason: format!("{detail} (unexpected status; redirects are not followed)"),
        }
    }
}

fn from_error(e: reqwest::Error) -> Delivery {
    let e = e.without_url();
    let chain = error_chain(&e);
    if e.is_builder() {
        Delivery::Permanent {
            reason: format!("unusable target URL: {chain}"),
        }
    } else if e.is_timeout() {
        Delivery::Retry {
            after: None,
            reason: format!("timed out: {chain}"),
        }
    } else if e.is_connect() {
        Delivery::Retry {
            after: None,
            reason: format!("connection failed: {chain}"),
        }
    } else {
        Delivery::Retry {
            after: None,
            reason: chain,
        }
    }
}

/// `e` and its sources, `: `-separated.
fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let s_text = s.to_string();
        if !out.ends_with(&s_text) {
            out.push_str(": ");
            out.push_str(&s_text);
        }
        source = s.source();
    }
    one_line(&out, 500)
}

/// The beginning of the body, at most [`BODY_READ_MAX`] bytes; a body that fails midway is cut there.
async fn read_prefix(response: &mut reqwest::Response) -> String {
    let mut buf = Vec::new();
    while buf.len() < BODY_READ_MAX {
        match response.chunk().await {
            Ok(Some(chunk)) => buf.extend_from_slice(&chunk),
            _ => break,
        }
    }
    buf.truncate(BODY_READ_MAX);
    String::from_utf8_lossy(&buf).into_owned()
}

/// Whether `s` looks like one of Slack's plain-text error codes (`no_service`).
fn is_error_code(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 100
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// Defence in depth: the URL (and, for Slack, its secret path) out of the reason, should a receiver or
/// an error message ever echo it.
fn redact(outcome: Delivery, url: &str) -> Delivery {
    let scrub = |reason: String| -> String {
        let mut reason = reason;
        let mut secrets = vec![url.to_owned()];
        if let Ok(parsed) = Url::parse(url) {
            secrets.push(parsed.as_str().to_owned());
            if parsed.path().len() > 1 {
                secrets.push(parsed.path().to_owned());
            }
            if let Some(query) = parsed.query().filter(|q| !q.is_empty()) {
                secrets.push(query.to_owned());
            }
        }
        for secret in secrets.iter().filter(|s| !s.is_empty()) {
            reason = reason.replace(secret.as_str(), "[redacted]");
        }
        reason
    };
    match outcome {
        Delivery::Sent => Delivery::Sent,
        Delivery::Retry { after, reason } => Delivery::Retry {
            after,
            reason: scrub(reason),
        },
        Delivery::Permanent { reason } => Delivery::Permanent {
            reason: scrub(reason),
        },
    }
}

fn kind_str(kind: NoticeKind) -> &'static str {
    match kind {
        NoticeKind::Firing => "firing",
        NoticeKind::Repeat => "repeat",
        NoticeKind::Resolved => "resolved",
        NoticeKind::Test => "test",
    }
}

fn severity_emoji(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "🔴",
        Severity::Warning => "🟠",
        Severity::Info => "🔵",
    }
}

/// The group's values in the order repo, workflow, job, test, suite, branch, runner labels, then
/// any other label by name (a test's id, which its dashboard link carries, is left out).
fn group_line(n: &Notice) -> String {
    ordered_labels(n)
        .into_iter()
        .map(|(_, v)| v)
        .collect::<Vec<_>>()
        .join(" · ")
}

fn ordered_labels(n: &Notice) -> Vec<(&str, &str)> {
    const KNOWN: [&str; 7] = ["repo", "workflow", "job", "test", "suite", "branch", "labels"];
    /// In the webhook's `group`, not in Slack messages.
    const HIDDEN: [&str; 1] = ["test_id"];
    let known = KNOWN
        .iter()
        .filter_map(|k| n.labels.get(*k).map(|v| (*k, v.as_str())));
    let others = n
        .labels
        .iter()
        .filter(|(k, _)| !KNOWN.contains(&k.as_str()) && !HIDDEN.contains(&k.as_str()))
        .map(|(k, v)| (k.as_str(), v.as_str()));
    known.chain(others).collect()
}

/// At most [`MAX_FIELDS`] fields: severity, the group, value vs threshold, started, resolved. Labels
/// beyond the room left are dropped (they are still in the text and the context line).
fn fields(n: &Notice, duration: Option<&str>) -> Vec<Value> {
    if n.kind == NoticeKind::Test {
        return Vec::new();
    }
    let mut tail = Vec::new();
    // A resolution's value is the good one it ended with ("0 failures in a row"): the headline says
    // what was wrong instead.
    let (value, threshold) = match n.kind {
        NoticeKind::Resolved => (&None, &None),
        _ => (&n.value, &n.threshold),
    };
    match (value, threshold) {
        (Some(v), Some(t)) => tail.push(field(
            "Value",
            &format!("{} (threshold {})", esc(v, 900), esc(t, 900)),
        )),
        (Some(v), None) => tail.push(field("Value", &esc(v, 1800))),
        (None, Some(t)) => tail.push(field("Threshold", &esc(t, 1800))),
        (None, None) => {}
    }
    tail.push(field("Started", &slack_date(n.started_at)));
    if let Some(resolved) = n.resolved_at {
        let after = duration.map(|d| format!(" (after {d})")).unwrap_or_default();
        tail.push(field("Resolved", &format!("{}{after}", slack_date(resolved))));
    }

    let mut out = vec![field("Severity", n.severity.as_str())];
    let room = MAX_FIELDS.saturating_sub(out.len() + tail.len());
    for (key, value) in ordered_labels(n).into_iter().take(room) {
        let title = match key {
            "repo" => "Repo".to_owned(),
            "workflow" => "Workflow".to_owned(),
            "branch" => "Branch".to_owned(),
            "job" => "Job".to_owned(),
            "labels" => "Runner labels".to_owned(),
            "test" => "Test".to_owned(),
            "suite" => "Suite".to_owned(),
            other => esc(other, 60),
        };
        out.push(field(&title, &esc(value, 1800)));
    }
    out.extend(tail);
    out.truncate(MAX_FIELDS);
    out
}

/// A `*title*\nvalue` mrkdwn field; both parts are already escaped and within budget.
fn field(title: &str, value: &str) -> Value {
    mrkdwn(truncate(&format!("*{title}*\n{value}"), FIELD_MAX))
}

fn context(n: &Notice) -> Vec<Value> {
    let mut parts = vec![format!(
        "Environment: *{}*",
        esc(&n.environment, CONTEXT_PART_MAX)
    )];
    match n.rule_id {
        _ if n.kind == NoticeKind::Test => {}
        Some(id) => parts.push(format!("Rule: {} (#{id})", esc(&n.rule_name, CONTEXT_PART_MAX))),
        None => parts.push(format!("Rule: {}", esc(&n.rule_name, CONTEXT_PART_MAX))),
    }
    if let Some(id) = n.incident_id {
        parts.push(format!("Incident #{id}"));
    }
    if let Some(run) = &n.run_id {
        parts.push(format!("Run {}", esc(run, CONTEXT_PART_MAX)));
    }
    parts.into_iter().map(mrkdwn).collect()
}

fn buttons(n: &Notice) -> Vec<Value> {
    [
        ("View run", "view_run", &n.run_url),
        ("Dashboard", "dashboard", &n.dashboard_url),
        ("Runbook", "runbook", &n.runbook_url),
    ]
    .into_iter()
    .filter_map(|(label, action_id, url)| {
        let url = link(url.as_deref()?)?;
        Some(json!({
            "type": "button",
            "text": {"type": "plain_text", "text": label},
            "action_id": action_id,
            "url": url,
        }))
    })
    .collect()
}

/// `url` if a button can carry it: absolute http(s) with a host, no whitespace, within Slack's limit.
fn link(url: &str) -> Option<&str> {
    if url.is_empty()
        || url.len() > BUTTON_URL_MAX
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        return None;
    }
    let parsed = Url::parse(url).ok()?;
    (matches!(parsed.scheme(), "http" | "https") && parsed.host_str().is_some_and(|h| !h.is_empty()))
        .then_some(url)
}

fn mrkdwn(text: String) -> Value {
    json!({"type": "mrkdwn", "text": text})
}

/// Slack's date token: shown in each reader's time zone, with the UTC time as the fallback.
fn slack_date(at: DateTime<Utc>) -> String {
    format!(
        "<!date^{}^{{date_short_pretty}} {{time}}|{}>",
        at.timestamp(),
        utc_minute(at)
    )
}

fn utc_minute(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%d %H:%M UTC").to_string()
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// `45s`, `12m 30s`, `3h 5m`, `2d 4h`.
fn human_duration(seconds: i64) -> String {
    let s = seconds.max(0);
    let (d, h, m, sec) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60, s % 60);
    if d > 0 {
        format!("{d}d {h}h")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else if m > 0 {
        format!("{m}m {sec}s")
    } else {
        format!("{sec}s")
    }
}

fn escape_of(c: char) -> Option<&'static str> {
    match c {
        '&' => Some("&amp;"),
        '<' => Some("&lt;"),
        '>' => Some("&gt;"),
        _ => None,
    }
}

/// `s` escaped for Slack mrkdwn and cut to at most `max` UTF-16 units (including the `…` added when
/// cut) without splitting a character or an entity.
fn esc(s: &str, max: usize) -> String {
    let width = |c: char| escape_of(c).map_or(c.len_utf16(), str::len);
    let total: usize = s.chars().map(width).sum();
    let budget = if total <= max { max } else { max.saturating_sub(1) };
    let mut out = String::with_capacity(s.len().min(max * 4));
    let mut used = 0;
    for c in s.chars() {
        let w = width(c);
        if used + w > budget {
            out.push('…');
            break;
        }
        match escape_of(c) {
            Some(entity) => out.push_str(entity),
            None => out.push(c),
        }
        used += w;
    }
    out
}

/// `s` cut to at most `max` UTF-16 units (including the `…` added when cut) at a character boundary.
fn truncate(s: &str, max: usize) -> String {
    if s.encode_utf16().count() <= max {
        return s.to_owned();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        if used + c.len_utf16() > max.saturating_sub(1) {
            break;
        }
        out.push(c);
        used += c.len_utf16();
    }
    out.push('…');
    out
}

/// Whitespace and control characters collapsed to single spaces, trimmed, cut to `max`.
fn one_line(s: &str, max: usize) -> String {
    let collapsed = s
        .split(|c: char| c.is_whitespace() || c.is_control())
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    truncate(&collapsed, max)
}

#[cfg(test)]
mod tests;
