//! PostgreSQL going away: requests get a 503 with Retry-After, /ready fails, /health does not,
//! and the service recovers by itself when the database is back — losing nothing acknowledged.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::http::StatusCode;
use serde_json::json;
use sqlx::postgres::PgPoolOptions;
use sqlx::PgPool;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;

use crate::support::{event, TestApp};

/// A TCP proxy in front of PostgreSQL that can cut every connection and refuse new ones.
pub struct Proxy {
    pub port: u16,
    up: Arc<AtomicBool>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

impl Proxy {
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let up = Arc::new(AtomicBool::new(true));
        let conns: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (up2, conns2) = (up.clone(), conns.clone());
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !up2.load(Ordering::SeqCst) {
                    continue; // dropped: connection refused, as far as the client can tell
                }
                let upstream = upstream.clone();
                let task = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                conns2.lock().unwrap().push(task.abort_handle());
            }
        });
        Proxy { port, up, conns }
    }

    pub fn cut(&self) {
        self.up.store(false, Ordering::SeqCst);
        for c in self.conns.lock().unwrap().drain(..) {
            c.abort();
        }
    }

    pub fn restore(&self) {
        self.up.store(true, Ordering::SeqCst);
    }
}

#[sqlx::test(migrations = "../migrations")]
async fn the_database_going_away_gives_503s_and_the_service_recovers(direct: PgPool) {
    let opts = direct.connect_options();
    let proxy = Proxy::start(format!("{}:{}", opts.get_host(), opts.get_port())).await;
    let proxied = (*opts).clone().host("127.0.0.1").port(proxy.port);
    let pool = PgPoolOptions::new()
        .acquire_timeout(Duration::from_secs(1))
        .max_connections(4)
        .connect_lazy_with(proxied);
    let app = TestApp::new(pool).await;

    assert_eq!(
        app.event(&event(json!({"id": "before"}))).await.status,
        StatusCode::CREATED
    );

    proxy.cut();
    let r = app.event(&event(json!({"id": "during"}))).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.text);
    assert_eq!(r.body["error"]["code"], "database_unavailable");
    assert!(r.headers.contains_key("retry-after"));
    assert_eq!(app.get("/ready").await.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        app.get("/api/metrics").await.status,
        StatusCode::SERVICE_UNAVAILABLE
    );
    assert_eq!(app.get("/health").await.status, StatusCode::OK);

    proxy.restore();
    let mut recovered = false;
    for _ in 0..50 {
        if app.event(&event(json!({"id": "during"}))).await.status == StatusCode::CREATED {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(recovered, "ingest did not recover after the database came back");
    assert_eq!(app.get("/ready").await.status, StatusCode::OK);
    let ids: Vec<String> = sqlx::query_scalar("select id from pipeline_runs order by id")
        .fetch_all(&direct)
        .await
        .unwrap();
    assert_eq!(ids, ["before", "during"]);
}
