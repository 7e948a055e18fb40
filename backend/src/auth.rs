//! API tokens: generation, hashing, and resolving a bearer token to its scope.
//!
//! Tokens look like `cicd_` + 40 base62 characters, so secret scanners can recognise a leaked one.
//! Only their SHA-256 is stored. Resolved tokens are cached for a few seconds per replica so that
//! authentication costs no query on the ingest hot path; a revocation takes effect on every
//! replica within [`CACHE_TTL`].

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::distributions::{Alphanumeric, DistString};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;

use crate::db;
use crate::throttle::Throttle;

pub const TOKEN_PREFIX: &str = "cicd_";
const CACHE_TTL: Duration = Duration::from_secs(10);
const CACHE_MAX: usize = 10_000;
const TOUCH_EVERY: Duration = Duration::from_secs(60);

pub use crate::domain::access::{Principal, Scope};

/// A new token: the secret (shown once), its hash and display prefix.
pub struct NewToken {
    pub secret: String,
    pub hash: [u8; 32],
    pub prefix: String,
}

pub fn generate() -> NewToken {
    let secret = format!(
        "{TOKEN_PREFIX}{}",
        Alphanumeric.sample_string(&mut rand::thread_rng(), 40)
    );
    NewToken {
        hash: hash(&secret),
        prefix: secret[..TOKEN_PREFIX.len() + 6].to_owned(),
        secret,
    }
}

pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Creates and stores a token; returns the secret (never stored) and its listing.
pub async fn create(
    pool: &PgPool,
    name: &str,
    scope: Scope,
) -> sqlx::Result<(String, db::tokens::TokenInfo)> {
    let token = generate();
    let info = db::tokens::insert(pool, name, scope.as_str(), &token.hash, &token.prefix).await?;
    Ok((token.secret, info))
}

struct Cached {
    principal: Option<Principal>,
    at: Instant,
}

pub struct Authenticator {
    pool: PgPool,
    admin_hash: Option<[u8; 32]>,
    operator_hash: Option<[u8; 32]>,
    cache: Mutex<HashMap<[u8; 32], Cached>>,
    touched: Throttle,
}

impl Authenticator {
    /// `admin_token` and `operator_token` are the bootstrap tokens given by environment
    /// (`CICD_ADMIN_TOKEN`, `CICD_OPERATOR_TOKEN`); other tokens live in the database.
    pub fn new(
        pool: PgPool,
        admin_token: Option<&SecretString>,
        operator_token: Option<&SecretString>,
    ) -> Self {
        Authenticator {
            pool,
            admin_hash: admin_token.map(|t| hash(t.expose_secret())),
            operator_hash: operator_token.map(|t| hash(t.expose_secret())),
            cache: Mutex::default(),
            touched: Throttle::new(TOUCH_EVERY),
        }
    }

    /// The principal a bearer token stands for, or `None` when it is unknown or revoked.
    pub async fn resolve(&self, token: &str) -> sqlx::Result<Option<Principal>> {
        let h = hash(token);
        for (bootstrap, scope) in [
            (&self.admin_hash, Scope::Admin),
            (&self.operator_hash, Scope::Operator),
        ] {
            if bootstrap.is_some_and(|b| bool::from(b.ct_eq(&h))) {
                return Ok(Some(Principal {
                    token_id: None,
                    scope,
                }));
            }
        }
        if let Some(hit) = self.cached(&h) {
            return Ok(hit);
        }
        let principal = db::tokens::find_live(&self.pool, &h)
            .await?
            .and_then(|(id, scope)| {
                Scope::parse(&scope).map(|scope| Principal {
                    token_id: Some(id),
                    scope,
                })
            });
        {
            let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
            if cache.len() >= CACHE_MAX {
                cache.clear();
            }
            cache.insert(
                h,
                Cached {
                    principal,
                    at: Instant::now(),
                },
            );
        }
        if let Some(Principal {
            token_id: Some(id), ..
        }) = principal
        {
            self.touch(id);
        }
        Ok(principal)
    }

    fn cached(&self, h: &[u8; 32]) -> Option<Option<Principal>> {
        let cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        let entry = cache.get(h)?;
        (entry.at.elapsed() < CACHE_TTL).then_some(entry.principal)
    }

    /// Forgets cached resolutions (after a revocation on this replica).
    pub fn invalidate(&self) {
        self.cache.lock().unwrap_or_else(|e| e.into_inner()).clear();
    }

    /// Records use of a token in the background, at most once a minute per replica.
    fn touch(&self, id: i64) {
        if !self.touched.ready(id) {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            if let Err(e) = db::tokens::touch(&pool, id).await {
                tracing::debug!(error = %e, token_id = id, "could not record token use");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_recognisable_and_distinct() {
        let a = generate();
        let b = generate();
        assert!(a.secret.starts_with("cicd_") && a.secret.len() == 45);
        assert!(a.secret.starts_with(&a.prefix));
        assert_ne!(a.secret, b.secret);
        assert_eq!(a.hash, hash(&a.secret));
    }

    #[tokio::test]
    async fn bootstrap_tokens_resolve_to_their_scopes_without_a_query() {
        // A lazy pool never connects: resolving a bootstrap token must not touch the database.
        let pool = PgPool::connect_lazy("postgres://unused@127.0.0.1:1/none").expect("lazy pool");
        let admin = SecretString::from("the-admin-token");
        let operator = SecretString::from("the-operator-token");
        let auth = Authenticator::new(pool, Some(&admin), Some(&operator));
        let scope = |p: Option<Principal>| p.map(|p| (p.token_id, p.scope));
        assert_eq!(
            scope(auth.resolve("the-admin-token").await.expect("no query")),
            Some((None, Scope::Admin))
        );
        assert_eq!(
            scope(auth.resolve("the-operator-token").await.expect("no query")),
            Some((None, Scope::Operator))
        );
    }

    #[test]
    fn admin_allows_everything_and_others_only_themselves() {
        assert!(Scope::Admin.allows(Scope::Ingest));
        assert!(Scope::Read.allows(Scope::Read));
        assert!(!Scope::Read.allows(Scope::Ingest));
        assert!(!Scope::Ingest.allows(Scope::Admin));
        assert!(Scope::Operator.allows(Scope::Read));
        assert!(!Scope::Operator.allows(Scope::Admin));
        assert!(!Scope::Admin.allows(Scope::Operator));
    }
}
