//! Who may deliver webhooks: the provider secrets from the environment (`GITHUB_WEBHOOK_SECRET`,
//! `GITLAB_WEBHOOK_TOKEN`, each a comma-separated list while rotating) and those stored in the
//! database per source (sealed under `CICD_SECRET_KEY`), so one installation can receive from
//! several GitHub organisations and GitLab instances. Stored sources are cached for a few seconds
//! per replica; every comparison is constant-time.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::{Digest, Sha256};
use sqlx::PgPool;
use subtle::ConstantTimeEq;

use crate::config::WebhookConfig;
use crate::crypto::SecretBox;
use crate::db;
use crate::domain::Provider;
use crate::ingest::github;
use crate::throttle::Throttle;

const CACHE_TTL: Duration = Duration::from_secs(5);
const TOUCH_EVERY: Duration = Duration::from_secs(60);

/// Why a delivery or a secret was refused.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The delivery's signature or token is missing or matches no secret.
    #[error("{0}")]
    Rejected(String),
    /// Storing a secret needs `CICD_SECRET_KEY`.
    #[error("storing secrets needs CICD_SECRET_KEY to be set on the server")]
    NoSecretKey,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

struct Secret {
    /// The stored source's id; `None` for the environment's secrets.
    id: Option<i64>,
    provider: Provider,
    /// `env` or the stored source's name; recorded with the runs it delivers.
    name: String,
    value: SecretSlice<u8>,
}

pub struct Verifier {
    pool: PgPool,
    secret_box: Option<SecretBox>,
    env: Vec<Secret>,
    cache: Mutex<Option<(Instant, Arc<Vec<Secret>>)>>,
    touched: Throttle,
}

fn split(provider: Provider, list: Option<&SecretString>) -> Vec<Secret> {
    list.map(|l| {
        l.expose_secret()
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Secret {
                id: None,
                provider,
                name: "env".into(),
                value: s.as_bytes().to_vec().into(),
            })
            .collect()
    })
    .unwrap_or_default()
}

impl Verifier {
    pub fn new(pool: PgPool, config: &WebhookConfig, secret_box: Option<SecretBox>) -> Self {
        let env = Provider::with_secrets()
            .flat_map(|p| split(p, config.secret(p)))
            .collect();
        Verifier {
            pool,
            secret_box,
            env,
            cache: Mutex::default(),
            touched: Throttle::new(TOUCH_EVERY),
        }
    }

    /// Whether the environment holds a secret for `provider`.
    pub fn has_environment_secret(&self, provider: Provider) -> bool {
        self.env.iter().any(|s| s.provider == provider)
    }

    /// Seals a secret for storage; refused when no `CICD_SECRET_KEY` is configured.
    pub fn seal(&self, secret: &str) -> Result<Vec<u8>, Error> {
        self.secret_box
            .as_ref()
            .map(|b| b.seal(secret.as_bytes()))
            .ok_or(Error::NoSecretKey)
    }

    /// Forgets cached sources (after a change on this replica).
    pub fn invalidate(&self) {
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    async fn stored(&self) -> Result<Arc<Vec<Secret>>, Error> {
        if let Some((at, secrets)) = &*self.cache.lock().unwrap_or_else(|e| e.into_inner()) {
            if at.elapsed() < CACHE_TTL {
                return Ok(secrets.clone());
            }
        }
        let mut secrets = Vec::new();
        for s in db::sources::all_sealed(&self.pool).await? {
            let opened = self.secret_box.as_ref().and_then(|b| b.open(&s.secret_sealed));
            match (Provider::parse(&s.provider), opened) {
                (Some(provider), Some(value)) => secrets.push(Secret {
                    id: Some(s.id),
                    provider,
                    name: s.name,
                    value: value.into(),
                }),
                _ => tracing::warn!(
                    source = %s.name,
                    "a stored webhook source cannot be opened (CICD_SECRET_KEY unset or changed); it is skipped"
                ),
            }
        }
        let secrets = Arc::new(secrets);
        *self.cache.lock().unwrap_or_else(|e| e.into_inner()) = Some((Instant::now(), secrets.clone()));
        Ok(secrets)
    }

    /// Finds the secret that accepts a delivery; returns its name (`env` or the source's).
    async fn find(
        &self,
        provider: Provider,
        accepts: impl Fn(&[u8]) -> bool,
    ) -> Result<Option<String>, Error> {
        let stored = self.stored().await?;
        let mut any = false;
        for s in self
            .env
            .iter()
            .chain(stored.iter())
            .filter(|s| s.provider == provider)
        {
            any = true;
            if accepts(s.value.expose_secret()) {
                if let Some(id) = s.id {
                    self.touch(id);
                }
                return Ok(Some(s.name.clone()));
            }
        }
        if !any {
            return Err(Error::Rejected(format!(
                "no {} webhook secret is configured on the server",
                provider.as_str()
            )));
        }
        Ok(None)
    }

    /// Checks `X-Hub-Signature-256` over the raw body against every GitHub secret.
    pub async fn github(&self, body: &[u8], signature: Option<&str>) -> Result<String, Error> {
        let Some(signature) = signature else {
            return Err(Error::Rejected(
                "the X-Hub-Signature-256 header is missing".into(),
            ));
        };
        self.find(Provider::Github, |secret| {
            github::signature_matches(secret, body, signature)
        })
        .await?
        .ok_or_else(|| Error::Rejected("the X-Hub-Signature-256 signature does not match".into()))
    }

    /// Checks `X-Gitlab-Token` against every GitLab token (hashes compared, so that neither the
    /// content nor the length of a token leaks through timing).
    pub async fn gitlab(&self, token: Option<&str>) -> Result<String, Error> {
        let Some(token) = token else {
            return Err(Error::Rejected("the X-Gitlab-Token header is missing".into()));
        };
        let given = Sha256::digest(token.as_bytes());
        self.find(Provider::Gitlab, |secret| {
            bool::from(Sha256::digest(secret).ct_eq(&given))
        })
        .await?
        .ok_or_else(|| Error::Rejected("the X-Gitlab-Token does not match".into()))
    }

    /// Records use of a stored source in the background, at most once a minute per replica.
    fn touch(&self, id: i64) {
        if !self.touched.ready(id) {
            return;
        }
        let pool = self.pool.clone();
        tokio::spawn(async move {
            if let Err(e) = db::sources::touch(&pool, id).await {
                tracing::debug!(error = %e, source_id = id, "could not record webhook source use");
            }
        });
    }
}
