//! Rate limits: ingest requests per token and per client address, and failed authentications per
//! client address (brute force of tokens, webhook secrets and the admin token). Limiters are keyed
//! GCRA buckets (`governor`) on this replica; [`Limits::prune`] forgets idle keys so memory stays
//! bounded by the addresses active in the last seconds.
//!
//! The client address is the socket peer, or — only when the peer is one of `CICD_TRUSTED_PROXIES`
//! — the last address in `X-Forwarded-For` that is not itself a trusted proxy. IPv6 clients are
//! counted per /64, the block a single host usually controls.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use ipnet::IpNet;

use super::AppState;
use crate::config::SecurityConfig;
use crate::error::ApiError;

/// Blocked addresses kept at most (beyond, expired blocks are dropped first, then all).
const BLOCKED_MAX: usize = 100_000;

/// The address a request comes from, as resolved by [`client_ip`] (absent without `ConnectInfo`,
/// e.g. in tests driving the router directly).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientIp(pub IpAddr);

pub struct Limits {
    trusted_proxies: Vec<IpNet>,
    ingest_by_token: Option<DefaultKeyedRateLimiter<Option<i64>>>,
    ingest_by_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    auth_failures: Option<DefaultKeyedRateLimiter<IpAddr>>,
    /// Addresses over their failed-authentication budget, until when.
    blocked: Mutex<HashMap<IpAddr, Instant>>,
    clock: DefaultClock,
}

impl Limits {
    pub fn new(config: &SecurityConfig) -> Self {
        let ingest = NonZeroU32::new(config.rate_limit_ingest).map(|rate| {
            let burst = NonZeroU32::new(config.rate_limit_ingest_burst).unwrap_or(rate);
            Quota::per_second(rate).allow_burst(burst.max(rate))
        });
        let failures = NonZeroU32::new(config.rate_limit_auth_failures).map(Quota::per_minute);
        Limits {
            trusted_proxies: config.trusted_proxies.clone(),
            ingest_by_token: ingest.map(RateLimiter::keyed),
            ingest_by_ip: ingest.map(RateLimiter::keyed),
            auth_failures: failures.map(RateLimiter::keyed),
            blocked: Mutex::default(),
            clock: DefaultClock::default(),
        }
    }

    fn check<K: Clone + Eq + std::hash::Hash>(
        &self,
        limiter: &Option<DefaultKeyedRateLimiter<K>>,
        key: &K,
        what: &str,
    ) -> Result<(), ApiError> {
        let Some(limiter) = limiter else { return Ok(()) };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(self.clock.now());
            too_many(what, wait)
        })
    }

    /// One ingest request by this token (`None`: the bootstrap admin token).
    pub fn ingest_token(&self, token_id: Option<i64>) -> Result<(), ApiError> {
        self.check(
            &self.ingest_by_token,
            &token_id,
            "this token is over its ingest rate limit",
        )
    }

    /// One ingest request from this address.
    pub fn ingest_ip(&self, ip: IpAddr) -> Result<(), ApiError> {
        self.check(
            &self.ingest_by_ip,
            &bucket(ip),
            "this address is over its ingest rate limit",
        )
    }

    /// Refuses an address that has failed authentication too often recently.
    pub fn blocked(&self, ip: IpAddr) -> Result<(), ApiError> {
        let blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        let now = Instant::now();
        match blocked.get(&bucket(ip)) {
            Some(until) if *until > now => Err(too_many(
                "too many failed authentications from this address",
                until.saturating_duration_since(now),
            )),
            _ => Ok(()),
        }
    }

    /// Counts a failed authentication; over the budget, the address is blocked until a failure
    /// would be allowed again.
    pub fn auth_failed(&self, ip: IpAddr) -> Result<(), ApiError> {
        let Some(limiter) = &self.auth_failures else {
            return Ok(());
        };
        let key = bucket(ip);
        let Err(not_until) = limiter.check_key(&key) else {
            return Ok(());
        };
        let wait = not_until.wait_time_from(self.clock.now());
        let mut blocked = self.blocked.lock().unwrap_or_else(|e| e.into_inner());
        if blocked.len() >= BLOCKED_MAX {
            let now = Instant::now();
            blocked.retain(|_, until| *until > now);
            if blocked.len() >= BLOCKED_MAX {
                blocked.clear();
            }
        }
        blocked.insert(key, Instant::now() + wait);
        tracing::warn!(client = %key, "too many failed authentications; address blocked for {wait:?}");
        Err(too_many(
            "too many failed authentications from this address",
            wait,
        ))
    }

    /// Forgets keys whose buckets are full again and blocks that have expired.
    pub fn prune(&self) {
        for limiter in [&self.ingest_by_ip, &self.auth_failures].into_iter().flatten() {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.ingest_by_token {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        let now = Instant::now();
        self.blocked
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .retain(|_, until| *until > now);
    }

    /// Keys held by the limiters (for tests of the pruning).
    pub fn len(&self) -> usize {
        [&self.ingest_by_ip, &self.auth_failures]
            .into_iter()
            .flatten()
            .map(|l| l.len())
            .sum::<usize>()
            + self.ingest_by_token.as_ref().map_or(0, |l| l.len())
            + self.blocked.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The client address of a request: the socket peer, or the forwarded client when the peer is
    /// a trusted proxy.
    pub fn client_ip(&self, req: &Request) -> Option<IpAddr> {
        let peer = req
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()?
            .0
            .ip()
            .to_canonical();
        let trusted = |ip: &IpAddr| self.trusted_proxies.iter().any(|n| n.contains(ip));
        if !trusted(&peer) {
            return Some(peer);
        }
        let forwarded: Vec<&str> = req
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for hop in forwarded.iter().rev() {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip.to_canonical();
            if !trusted(&client) {
                break;
            }
        }
        Some(client)
    }
}

/// The key an address is counted under: itself (IPv4), its /64 (IPv6).
fn bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => {
            let s = v6.segments();
            IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
        }
    }
}

fn too_many(what: &str, wait: Duration) -> ApiError {
    let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
    ApiError::TooManyRequests {
        message: format!("{what}; retry after {secs} s"),
        retry_after_secs: secs,
    }
}

/// Resolves the client address once per request ([`ClientIp`] in the request's extensions).
pub async fn resolve_client(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    if let Some(ip) = state.limits.client_ip(&req) {
        req.extensions_mut().insert(ClientIp(ip));
    }
    next.run(req).await
}

/// The per-address limit of the ingest routes (the per-token one is applied once the token is
/// known, in [`super::bearer::authorize_token`]).
pub async fn ingest(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let Some(ClientIp(ip)) = req.extensions().get::<ClientIp>().copied() {
        if let Err(e) = state.limits.ingest_ip(ip) {
            return e.into_response();
        }
    }
    next.run(req).await
}

/// Refuses addresses over their failed-authentication budget, and counts each `401`.
pub async fn auth_failures(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let ip = req.extensions().get::<ClientIp>().map(|c| c.0);
    if let Some(ip) = ip {
        if let Err(e) = state.limits.blocked(ip) {
            return e.into_response();
        }
    }
    let res = next.run(req).await;
    if res.status() == StatusCode::UNAUTHORIZED {
        if let Some(ip) = ip {
            if let Err(e) = state.limits.auth_failed(ip) {
                return e.into_response();
            }
        }
    }
    res
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    fn limits(proxies: &str) -> Limits {
        Limits::new(&SecurityConfig {
            trusted_proxies: proxies
                .split(',')
                .filter(|s| !s.is_empty())
                .map(|s| s.parse().expect("cidr"))
                .collect(),
            ..SecurityConfig::default()
        })
    }

    fn req(peer: &str, xff: &[&str]) -> Request {
        let mut b = axum::http::Request::builder().uri("/api/events");
        for v in xff {
            b = b.header("x-forwarded-for", *v);
        }
        let mut r = b.body(Body::empty()).expect("request");
        r.extensions_mut()
            .insert(ConnectInfo(peer.parse::<SocketAddr>().expect("addr")));
        r
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let l = limits("");
        assert_eq!(
            l.client_ip(&req("198.51.100.7:5000", &["203.0.113.9"])),
            ip("198.51.100.7")
        );
        let l = limits("10.0.0.0/8");
        assert_eq!(
            l.client_ip(&req("198.51.100.7:5000", &["203.0.113.9"])),
            ip("198.51.100.7")
        );
        assert_eq!(
            l.client_ip(&req("10.1.2.3:5000", &["203.0.113.9"])),
            ip("203.0.113.9")
        );
        assert_eq!(l.client_ip(&req("10.1.2.3:5000", &[])), ip("10.1.2.3"));
    }

    #[test]
    fn a_spoofed_forwarded_for_to_the_left_of_the_last_untrusted_hop_is_ignored() {
        let l = limits("10.0.0.0/8,192.0.2.1/32");
        // The client wrote "1.1.1.1" itself; the proxies appended the real address and each other.
        let r = req("10.0.0.5:1", &["1.1.1.1, 203.0.113.9", "192.0.2.1"]);
        assert_eq!(l.client_ip(&r), ip("203.0.113.9"));
        assert_eq!(l.client_ip(&req("10.0.0.5:1", &["garbage"])), ip("10.0.0.5"));
        assert_eq!(
            l.client_ip(&req("[::ffff:10.0.0.5]:1", &["203.0.113.9"])),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn ipv6_clients_are_counted_per_64() {
        assert_eq!(
            bucket("2001:db8:1:2:3:4:5:6".parse().expect("ip")),
            "2001:db8:1:2::".parse::<IpAddr>().expect("ip")
        );
        assert_eq!(
            bucket("192.0.2.1".parse().expect("ip")),
            "192.0.2.1".parse::<IpAddr>().expect("ip")
        );
    }

    #[test]
    fn failures_over_the_budget_block_the_address_and_pruning_forgets_idle_keys() {
        let l = Limits::new(&SecurityConfig {
            rate_limit_auth_failures: 3,
            ..SecurityConfig::default()
        });
        let a: IpAddr = "192.0.2.1".parse().expect("ip");
        let b: IpAddr = "192.0.2.2".parse().expect("ip");
        for _ in 0..3 {
            assert!(l.blocked(a).is_ok());
            assert!(l.auth_failed(a).is_ok());
        }
        let Err(ApiError::TooManyRequests { retry_after_secs, .. }) = l.auth_failed(a) else {
            panic!("the 4th failure within a minute is refused");
        };
        assert!((1..=20).contains(&retry_after_secs), "{retry_after_secs}");
        assert!(l.blocked(a).is_err());
        assert!(l.blocked(b).is_ok(), "another address is not affected");
        assert!(!l.is_empty());
        l.ingest_ip(b).expect("ingest allowed");
        l.prune();
        // `b`'s ingest bucket refills within microseconds and is forgotten; `a` stays blocked.
        assert!(l.blocked(a).is_err());
    }

    #[test]
    fn ingest_is_limited_per_token_and_zero_turns_limits_off() {
        let l = Limits::new(&SecurityConfig {
            rate_limit_ingest: 1,
            rate_limit_ingest_burst: 2,
            ..SecurityConfig::default()
        });
        assert!(l.ingest_token(Some(1)).is_ok());
        assert!(l.ingest_token(Some(1)).is_ok());
        assert!(l.ingest_token(Some(1)).is_err());
        assert!(l.ingest_token(Some(2)).is_ok());
        let off = Limits::new(&SecurityConfig::unlimited());
        for _ in 0..1000 {
            off.ingest_token(Some(1)).expect("no limit");
            off.auth_failed("192.0.2.1".parse().expect("ip"))
                .expect("no limit");
        }
        assert!(off.is_empty());
    }
}
