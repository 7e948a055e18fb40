//! Integrations (Slack and generic webhook destinations): validation, the sealing of their
//! secrets, and their changes through the API or by the operator. Secrets are write-only: sealed
//! at rest, never returned, shown as a masked hint.

use cicd_monitor_crds::{IntegrationSpec, IntegrationType, SecretValue};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::{PgConnection, PgPool};
use subtle::ConstantTimeEq;

use super::owned::{self, Error, Owned, Result, Target};
use crate::auth::Principal;
use crate::crypto::SecretBox;
use crate::db::integrations::{self as db, IntegrationRow, NewIntegration};
use crate::domain::owner::{K8sRef, Owner, Ownership};
use crate::domain::FieldError;
use crate::outbound::Guard;

/// The secrets an integration keeps sealed.
#[derive(Debug, Serialize, Deserialize)]
pub struct Secrets {
    pub url: String,
    pub hmac_secret: Option<String>,
}

/// `https://hooks.slack.com/services/T0/B0/XXXX` → `https://hooks.slack.com/…/XXXX`.
pub fn mask(url: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split('/').next().unwrap_or_default();
    let tail: String = rest
        .chars()
        .rev()
        .take(4)
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    format!("{scheme}://{host}/…/{tail}")
}

fn secret(v: Option<&SecretValue>, field: &str, errors: &mut Vec<FieldError>) -> Option<String> {
    match v {
        Some(SecretValue { value: Some(v), .. }) if !v.trim().is_empty() => Some(v.trim().to_owned()),
        Some(SecretValue {
            secret_key_ref: Some(_),
            ..
        }) => {
            errors.push(FieldError::new(
                field,
                "secretKeyRef is resolved by the operator; through the API give the value",
            ));
            None
        }
        _ => {
            errors.push(FieldError::new(field, "is required"));
            None
        }
    }
}

fn http_url(url: &str, field: &str, errors: &mut Vec<FieldError>) {
    match reqwest::Url::parse(url) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
        _ => errors.push(FieldError::new(field, "must be an http(s) URL")),
    }
}

/// Validates a spec and splits it into what is stored in clear and the sealed secrets.
pub fn prepare(name: &str, spec: &IntegrationSpec) -> Result<(IntegrationSpec, Secrets)> {
    let mut errors = Vec::new();
    if name.trim().is_empty() || name.chars().count() > 253 {
        errors.push(FieldError::new("name", "must be 1 to 253 characters"));
    }
    let mut clear = spec.clone();
    let secrets = match spec.kind {
        IntegrationType::Slack => {
            let url = secret(
                spec.slack.as_ref().map(|s| &s.webhook_url),
                "spec.slack.webhookUrl",
                &mut errors,
            );
            if let Some(u) = &url {
                http_url(u, "spec.slack.webhookUrl", &mut errors);
            }
            if let Some(s) = &mut clear.slack {
                s.webhook_url.value = None;
            }
            clear.webhook = None;
            url.map(|url| Secrets {
                url,
                hmac_secret: None,
            })
        }
        IntegrationType::Webhook => {
            let w = spec.webhook.as_ref();
            let url = secret(w.map(|w| &w.url), "spec.webhook.url", &mut errors);
            if let Some(u) = &url {
                http_url(u, "spec.webhook.url", &mut errors);
            }
            let hmac_secret = match w.and_then(|w| w.hmac_secret.as_ref()) {
                Some(h) => secret(Some(h), "spec.webhook.hmacSecret", &mut errors),
                None => None,
            };
            if let Some(w) = &mut clear.webhook {
                w.url.value = None;
                if let Some(h) = &mut w.hmac_secret {
                    h.value = None;
                }
            }
            clear.slack = None;
            url.map(|url| Secrets { url, hmac_secret })
        }
    };
    match secrets {
        Some(s) if errors.is_empty() => Ok((clear, s)),
        _ => Err(Error::Invalid(errors)),
    }
}

fn kind_of(spec: &IntegrationSpec) -> &'static str {
    match spec.kind {
        IntegrationType::Slack => "slack",
        IntegrationType::Webhook => "webhook",
    }
}

/// Whether two sets of secrets are equal, compared in constant time (by hash, so that not even
/// their length shows): an admin may replace a secret but never learn it, not even from timing.
fn same(a: &Secrets, b: &Secrets) -> bool {
    let digest = |s: &Secrets| Sha256::digest(serde_json::to_vec(s).unwrap_or_default());
    bool::from(digest(a).ct_eq(&digest(b)))
}

/// An integration to store: the spec without secret values, the sealed secrets, a masked hint.
pub struct Prepared {
    name: String,
    kind: &'static str,
    clear: IntegrationSpec,
    sealed: Vec<u8>,
    url_hint: String,
}

impl Owned for IntegrationRow {
    const WHAT: &'static str = "integration";
    const KIND: &'static str = "integration";
    type New = Prepared;

    fn id(&self) -> i64 {
        self.id
    }

    fn name(&self) -> &str {
        &self.name
    }

    fn owner(&self) -> Owner {
        self.source
    }

    fn k8s(&self) -> Option<K8sRef> {
        IntegrationRow::k8s(self)
    }

    /// The type, owner and masked address, never a secret.
    fn detail(&self) -> serde_json::Value {
        serde_json::json!({
            "type": self.kind,
            "source": self.source,
            "url_hint": self.url_hint,
        })
    }

    async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Self>> {
        db::get(conn, id).await
    }

    async fn by_uid(conn: &mut PgConnection, uid: &str) -> sqlx::Result<Option<Self>> {
        db::by_uid(conn, uid).await
    }

    async fn insert(conn: &mut PgConnection, new: &Prepared, owner: &Ownership) -> sqlx::Result<Self> {
        db::insert(conn, &new.as_row(), owner).await
    }

    async fn update(conn: &mut PgConnection, id: i64, new: &Prepared) -> sqlx::Result<Self> {
        db::update(conn, id, &new.as_row()).await
    }

    async fn delete(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
        db::delete(conn, id).await
    }
}

impl Prepared {
    fn as_row(&self) -> NewIntegration<'_> {
        NewIntegration {
            name: &self.name,
            kind: self.kind,
            spec: &self.clear,
            sealed: &self.sealed,
            url_hint: &self.url_hint,
        }
    }
}

/// Integrations as the API and the operator change them.
pub struct Integrations<'a> {
    pub pool: &'a PgPool,
    /// Seals and opens secrets; without it (no `CICD_SECRET_KEY`) nothing can be stored.
    pub secret_box: Option<&'a SecretBox>,
    /// Which URLs may be called ([`crate::outbound`]).
    pub guard: &'a Guard,
}

impl Integrations<'_> {
    /// Creates an integration owned by the API.
    pub async fn create(
        &self,
        who: Option<Principal>,
        name: &str,
        spec: &IntegrationSpec,
    ) -> Result<IntegrationRow> {
        self.write(who, Target::New(&Ownership::api()), name, spec).await
    }

    /// Replaces an integration the API owns. A secret left out (`{}` or an empty `value`) keeps
    /// the stored one, so renaming or changing a channel needs no URL.
    pub async fn replace(
        &self,
        who: Option<Principal>,
        id: i64,
        name: &str,
        spec: IntegrationSpec,
    ) -> Result<IntegrationRow> {
        let row = owned::api_owned::<IntegrationRow>(self.pool, id).await?;
        let mut spec = spec;
        self.keep_secrets(&row, &mut spec);
        self.write(who, Target::Id(id), name, &spec).await
    }

    /// Deletes an integration the API owns (its undelivered notifications go with it).
    pub async fn remove(&self, who: Option<Principal>, id: i64) -> Result<()> {
        let row = owned::api_owned::<IntegrationRow>(self.pool, id).await?;
        owned::remove(self.pool, who, &row).await
    }

    /// Creates or updates the integration of the `Integration` resource `namespace/name` with
    /// this uid; it is named `namespace/name`.
    pub async fn upsert_k8s(
        &self,
        who: Option<Principal>,
        uid: &str,
        namespace: &str,
        name: &str,
        spec: &IntegrationSpec,
    ) -> Result<IntegrationRow> {
        let owner = Ownership::kubernetes(uid.to_owned(), namespace.to_owned(), name.to_owned());
        let name = format!("{namespace}/{name}");
        self.write(who, Target::Resource(&owner), &name, spec).await
    }

    /// Deletes the integration of an `Integration` resource; 404 when there is none.
    pub async fn remove_k8s(&self, who: Option<Principal>, uid: &str) -> Result<()> {
        let row = owned::by_uid::<IntegrationRow>(self.pool, uid).await?;
        owned::remove(self.pool, who, &row).await
    }

    /// Validates, seals and stores; an update that changes nothing is not audited.
    async fn write(
        &self,
        who: Option<Principal>,
        target: Target<'_>,
        name: &str,
        spec: &IntegrationSpec,
    ) -> Result<IntegrationRow> {
        let (clear, secrets) = prepare(name, spec)?;
        let secret_box = self.secret_box.ok_or(Error::NoSecretKey)?;
        if let Err(why) = self.guard.check_url(&secrets.url).await {
            let field = match spec.kind {
                IntegrationType::Slack => "spec.slack.webhookUrl",
                IntegrationType::Webhook => "spec.webhook.url",
            };
            return Err(Error::Invalid(vec![FieldError::new(field, why.0)]));
        }
        let sealed = secret_box.seal(&serde_json::to_vec(&secrets).map_err(anyhow::Error::from)?);
        let new = Prepared {
            name: name.trim().to_owned(),
            kind: kind_of(spec),
            clear,
            sealed,
            url_hint: mask(&secrets.url),
        };
        owned::write(self.pool, who, target, &new, |old: &IntegrationRow, row| {
            old.name == row.name
                && old.spec.0 == new.clear
                && self.opened(old).is_some_and(|old| same(&old, &secrets))
        })
        .await
    }

    /// Fills the secrets a replacement leaves out from the stored ones (same type only).
    fn keep_secrets(&self, row: &IntegrationRow, spec: &mut IntegrationSpec) {
        if row.kind != kind_of(spec) {
            return;
        }
        let Some(old) = self.opened(row) else {
            return;
        };
        let fill = |v: &mut SecretValue, old: Option<&String>| {
            let missing = v.value.as_deref().is_none_or(|s| s.trim().is_empty());
            if missing && v.secret_key_ref.is_none() {
                v.value = old.cloned();
            }
        };
        if let Some(s) = &mut spec.slack {
            fill(&mut s.webhook_url, Some(&old.url));
        }
        if let Some(w) = &mut spec.webhook {
            fill(&mut w.url, Some(&old.url));
            if let Some(h) = &mut w.hmac_secret {
                fill(h, old.hmac_secret.as_ref());
            }
        }
    }

    /// The stored secrets of an integration, when they can be opened.
    fn opened(&self, row: &IntegrationRow) -> Option<Secrets> {
        let plain = self.secret_box?.open(&row.secrets_sealed)?;
        serde_json::from_slice(&plain).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_masked_to_host_and_last_characters() {
        assert_eq!(
            mask("https://hooks.slack.com/services/T000/B000/XXXXabcd"),
            "https://hooks.slack.com/…/abcd"
        );
    }

    #[test]
    fn specs_are_split_into_clear_and_sealed_parts() {
        let spec: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "type": "Webhook",
            "webhook": {"url": {"value": "https://example.com/hook"}, "hmacSecret": {"value": "k"}}
        }))
        .unwrap();
        let (clear, secrets) = prepare("w", &spec).unwrap();
        assert_eq!(secrets.url, "https://example.com/hook");
        assert_eq!(secrets.hmac_secret.as_deref(), Some("k"));
        let clear = serde_json::to_string(&clear).unwrap();
        assert!(
            !clear.contains("example.com") && !clear.contains("\"k\""),
            "{clear}"
        );

        let by_ref: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "type": "Slack", "slack": {"webhookUrl": {"secretKeyRef": {"name": "s", "key": "url"}}}
        }))
        .unwrap();
        assert!(matches!(prepare("s", &by_ref), Err(Error::Invalid(_))));
        let not_http: IntegrationSpec = serde_json::from_value(serde_json::json!({
            "type": "Slack", "slack": {"webhookUrl": {"value": "file:///etc/passwd"}}
        }))
        .unwrap();
        assert!(matches!(prepare("s", &not_http), Err(Error::Invalid(_))));
    }
}
