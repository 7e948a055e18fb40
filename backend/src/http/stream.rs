//! `GET /api/stream`: live updates as server-sent events, fed by [`crate::live`].

use std::convert::Infallible;
use std::time::Duration;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::IntoResponse;
use futures_util::stream::{self, StreamExt};
use prometheus::IntGauge;
use serde::{Deserialize, Serialize};
use tokio::sync::{broadcast, watch};
use utoipa::{IntoParams, ToSchema};

use super::bearer::{authorize, authorize_token};
use super::extract::Query;
use super::AppState;
use crate::auth::Scope;
use crate::error::ApiResult;
use crate::live::LiveEvent;

/// How long a client waits before reconnecting after the stream breaks (the SSE `retry` field).
pub const RETRY: Duration = Duration::from_secs(3);
/// A comment line this often keeps proxies from closing a quiet stream.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// A token with the read scope, for clients that cannot send an `Authorization` header
    /// (a browser's `EventSource`). The header wins when both are given.
    pub token: Option<String>,
}

/// The first event of every stream.
#[derive(Debug, Serialize, ToSchema)]
pub struct Hello {
    /// Whether this replica is receiving changes now. When `false`, a `resync` follows as soon as
    /// it is again.
    pub live: bool,
}

/// Clients should fetch everything they show again: changes may have been missed.
#[derive(Debug, Serialize, ToSchema)]
pub struct Resync {
    /// `reconnected` (this replica lost its database connection for a while), `lagged` (this client
    /// read too slowly and events were dropped) or `unavailable` (a change could not be read).
    #[schema(example = "reconnected")]
    pub reason: &'static str,
}

/// One event of the stream, as the document describes it (the component `StreamEvent`, which the
/// stream's response names as the schema of each event, as OpenAPI 3.1 tools read it): its name,
/// and its `data` line, a JSON document whose schema (`contentSchema`) depends on the name.
pub struct StreamEvent;

impl utoipa::ToSchema for StreamEvent {}

impl utoipa::PartialSchema for StreamEvent {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        event_schema().into()
    }
}

fn event_schema() -> utoipa::openapi::Schema {
    use utoipa::openapi::extensions::Extensions;
    use utoipa::openapi::{ObjectBuilder, OneOfBuilder, Type};
    let event = |name: &str, data: &str, what: &str| {
        let json = Extensions::from_iter([(
            "contentSchema",
            serde_json::json!({"$ref": format!("#/components/schemas/{data}")}),
        )]);
        let mut event = ObjectBuilder::new()
            .schema_type(Type::Object)
            .title(Some(name))
            .description(Some(what))
            .property(
                "event",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .enum_values(Some([name])),
            )
            .property(
                "data",
                ObjectBuilder::new()
                    .schema_type(Type::String)
                    .content_media_type("application/json")
                    .extensions(Some(json)),
            )
            .required("event")
            .required("data");
        if name == "hello" {
            event = event
                .property(
                    "retry",
                    ObjectBuilder::new()
                        .schema_type(Type::Integer)
                        .enum_values(Some([RETRY.as_millis() as u64])),
                )
                .required("retry");
        }
        event
    };
    OneOfBuilder::new()
        .description(Some("One server-sent event of `GET /api/stream`."))
        .item(event(
            "hello",
            "Hello",
            "First, once connected, with the reconnection delay in ms.",
        ))
        .item(event(
            "run",
            "Run",
            "A run was recorded or changed (without `metadata`).",
        ))
        .item(event("incident", "IncidentChange", "An incident changed."))
        .item(event(
            "runners",
            "RunnersChange",
            "Jobs of runner pools were queued, started, finished or folded into their figures.",
        ))
        .item(event(
            "tests",
            "TestsChange",
            "Test results of a run were recorded.",
        ))
        .item(event(
            "resync",
            "Resync",
            "Changes may have been missed: fetch everything again.",
        ))
        .build()
        .into()
}

/// Live updates (server-sent events, `text/event-stream`).
///
/// Events, each with one JSON `data` line:
/// - `hello` — first, once connected: `{"live": true}` (schema `Hello`). It carries `retry: 3000`,
///   so a dropped stream is reconnected after 3 s. Open the stream, wait for `hello`, then load
///   what the page shows: nothing committed after `hello` is missed. Treat every `hello` after the
///   first like `resync`.
/// - `run` — a run was recorded or changed (created, moved on, corrected): the run as
///   `GET /api/runs` lists it, without `metadata` (schema `Run`). A batch commit sends many at
///   once. A replay that changes nothing sends nothing. With a read replica, its SSE `id` is the
///   WAL position a read must reach to see it: send the highest seen as the `CICD-Read-After`
///   header of reads, and they see it.
/// - `incident` — an incident was opened, fired, resolved, deleted, acknowledged or muted, or
///   another failed run joined it: `{"id", "rule_id", "state", "change"}` (schema
///   `IncidentChange`). `GET /api/alerts` has the incident itself.
/// - `runners` — jobs of some runner pools were queued, started or finished, or their figures
///   moved: `{"labels": [[…], …]}` (schema `RunnersChange`; empty when every pool may have
///   changed). `GET /api/runners` has the pools.
/// - `tests` — test results of a run were recorded (a report attached to its run):
///   `{"run_id", "repo"}` (schema `TestsChange`). `GET /api/runs/{run_id}/tests` has them.
/// - `resync` — `{"reason"}` (schema `Resync`): changes may have been missed; fetch everything
///   again.
///
/// Each event is one of the schema `StreamEvent`. A comment line (`: keep-alive`) comes every 15 s. Every replica sends every change, whichever
/// replica made it. `EventSource` cannot send an `Authorization` header: pass a read token as
/// `?token=` instead (not needed when reads are public).
#[utoipa::path(get, path = "/stream", tag = "stream", params(StreamParams),
    responses(
        (status = 200, description = "An endless stream of `hello`, `run`, `incident`, `runners` and `resync` events",
         content_type = "text/event-stream", body = StreamEvent)),
    security((), ("bearer" = ["read"])))]
async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<StreamParams>,
) -> ApiResult<impl IntoResponse> {
    match q.token.as_deref() {
        Some(token) if !headers.contains_key(AUTHORIZATION) => {
            authorize_token(&state, token, Scope::Read).await?;
        }
        _ => {
            authorize(&headers, &state, Scope::Read).await?;
        }
    }
    // Subscribed before `hello` is written: whatever commits after the client sees it reaches it.
    let client = Client {
        events: state.live.subscribe(),
        closed: state.live.closed(),
        _counted: Counted::new(state.metrics.stream_clients.clone()),
    };
    let hello = Event::default().event("hello").retry(RETRY).data(json(&Hello {
        live: state.live.is_listening(),
    }));
    let events = stream::once(async { Ok(hello) }).chain(stream::unfold(client, next));
    Ok((
        // Proxies (nginx) must pass events on at once rather than buffer them.
        [(
            HeaderName::from_static("x-accel-buffering"),
            HeaderValue::from_static("no"),
        )],
        Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive")),
    ))
}

/// One connected client.
struct Client {
    events: broadcast::Receiver<LiveEvent>,
    closed: watch::Receiver<bool>,
    _counted: Counted,
}

async fn next(mut c: Client) -> Option<(Result<Event, Infallible>, Client)> {
    let received = tokio::select! {
        biased;
        _ = c.closed.wait_for(|closed| *closed) => return None,
        r = c.events.recv() => r,
    };
    let event = match received {
        // The id is the WAL position a read must reach to see the run (with a read replica): the
        // dashboard sends the highest it saw as `CICD-Read-After`.
        Ok(LiveEvent::Run(json, lsn)) => {
            let event = Event::default().event("run").data(&*json);
            match lsn {
                Some(lsn) => event.id(lsn.to_string()),
                None => event,
            }
        }
        Ok(LiveEvent::Incident(json)) => Event::default().event("incident").data(&*json),
        Ok(LiveEvent::Runners(json)) => Event::default().event("runners").data(&*json),
        Ok(LiveEvent::Tests(json)) => Event::default().event("tests").data(&*json),
        Ok(LiveEvent::Resync(reason)) => resync(reason),
        // The events it missed are gone; what is still queued follows.
        Err(broadcast::error::RecvError::Lagged(_)) => resync("lagged"),
        Err(broadcast::error::RecvError::Closed) => return None,
    };
    Some((Ok(event), c))
}

fn resync(reason: &'static str) -> Event {
    Event::default().event("resync").data(json(&Resync { reason }))
}

fn json(v: &impl Serialize) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

/// Counts a client in `cicd_stream_clients` while it is connected.
struct Counted(IntGauge);

impl Counted {
    fn new(gauge: IntGauge) -> Self {
        gauge.inc();
        Counted(gauge)
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.dec();
    }
}
