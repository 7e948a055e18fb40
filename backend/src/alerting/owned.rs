//! The ownership rules of the resources that the API, Kubernetes (through the operator) or the
//! server's environment can own — alert rules and integrations — implemented once:
//!
//! - the API changes or deletes only what the API owns ([`api_owned`]);
//! - the operator addresses a resource by its uid: a write updates the row of that resource or
//!   creates it ([`Target::Resource`]), a delete that finds none is a 404;
//! - every write and delete is recorded in the audit log in its own transaction; an update that
//!   changes nothing (the operator re-applying a resource on resync) is not.

use std::future::Future;

use sqlx::{PgConnection, PgPool};

use crate::auth::Principal;
use crate::db::audit::{self, Action};
use crate::domain::owner::{K8sRef, Owner, Ownership};
use crate::domain::FieldError;

/// Why a change to an owned resource (or its preparation) failed.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 404
    #[error("no {what} with {key} {value}")]
    NotFound {
        what: &'static str,
        key: &'static str,
        value: String,
    },
    /// 409: the API may not change what a custom resource declares.
    #[error("this {what} is managed by Kubernetes ({}/{}, uid {}); change the resource instead", .k8s.namespace, .k8s.name, .k8s.uid)]
    ManagedByKubernetes { what: &'static str, k8s: K8sRef },
    /// 409: the API may not change what the environment declares.
    #[error("this {what} is declared by the server's environment (SLACK_WEBHOOK_URL); change it there")]
    DeclaredByEnvironment { what: &'static str },
    /// 409: secrets cannot be sealed without a key.
    #[error("storing integrations needs CICD_SECRET_KEY to be set on the server")]
    NoSecretKey,
    /// 422: fields that are invalid, each one named.
    #[error("the request has invalid fields")]
    Invalid(Vec<FieldError>),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A stored resource that the API, Kubernetes or the environment owns.
pub trait Owned: Sized + Send + Sync {
    /// How messages name it: `alert rule`, `integration`.
    const WHAT: &'static str;
    /// The audit log's target kind, and the prefix of its actions: `alert_rule`, `integration`.
    const KIND: &'static str;
    /// What a write stores (validated, secrets sealed).
    type New: Sync;

    fn id(&self) -> i64;
    fn name(&self) -> &str;
    fn owner(&self) -> Owner;
    fn k8s(&self) -> Option<K8sRef>;
    /// The audit record's detail: a few facts about the row, never a secret.
    fn detail(&self) -> serde_json::Value;

    fn get(conn: &mut PgConnection, id: i64) -> impl Future<Output = sqlx::Result<Option<Self>>> + Send;
    fn by_uid(conn: &mut PgConnection, uid: &str) -> impl Future<Output = sqlx::Result<Option<Self>>> + Send;
    fn insert(
        conn: &mut PgConnection,
        new: &Self::New,
        owner: &Ownership,
    ) -> impl Future<Output = sqlx::Result<Self>> + Send;
    fn update(
        conn: &mut PgConnection,
        id: i64,
        new: &Self::New,
    ) -> impl Future<Output = sqlx::Result<Self>> + Send;
    /// Whether there was a row to delete.
    fn delete(conn: &mut PgConnection, id: i64) -> impl Future<Output = sqlx::Result<bool>> + Send;
}

fn not_found<R: Owned>(key: &'static str, value: impl ToString) -> Error {
    Error::NotFound {
        what: R::WHAT,
        key,
        value: value.to_string(),
    }
}

/// Refuses changes through the API to what Kubernetes or the environment owns.
pub fn check_api_owned<R: Owned>(row: &R) -> Result<()> {
    match (row.owner(), row.k8s()) {
        (Owner::Api, _) => Ok(()),
        (Owner::Kubernetes, Some(k8s)) => Err(Error::ManagedByKubernetes { what: R::WHAT, k8s }),
        _ => Err(Error::DeclaredByEnvironment { what: R::WHAT }),
    }
}

/// The row with this id; 404 when there is none.
pub async fn get<R: Owned>(pool: &PgPool, id: i64) -> Result<R> {
    let mut conn = pool.acquire().await?;
    R::get(&mut conn, id)
        .await?
        .ok_or_else(|| not_found::<R>("id", id))
}

/// The row with this id, when the API may change it: 404 when there is none, 409 when
/// Kubernetes or the environment owns it.
pub async fn api_owned<R: Owned>(pool: &PgPool, id: i64) -> Result<R> {
    let row = get::<R>(pool, id).await?;
    check_api_owned(&row)?;
    Ok(row)
}

/// The row of the custom resource with this uid; 404 when there is none.
pub async fn by_uid<R: Owned>(pool: &PgPool, uid: &str) -> Result<R> {
    let mut conn = pool.acquire().await?;
    R::by_uid(&mut conn, uid)
        .await?
        .ok_or_else(|| not_found::<R>("uid", uid))
}

/// Where a write goes.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A new row, owned by this owner.
    New(&'a Ownership),
    /// Over the row with this id (404 when it is gone).
    Id(i64),
    /// Over the row of this custom resource, or a new one for it.
    Resource(&'a Ownership),
}

/// Writes `new` to `target` and records the change in the audit log, in one transaction. An
/// update for which `unchanged(old, new)` holds is not recorded.
pub async fn write<R: Owned>(
    pool: &PgPool,
    who: Option<Principal>,
    target: Target<'_>,
    new: &R::New,
    unchanged: impl FnOnce(&R, &R) -> bool,
) -> Result<R> {
    let mut tx = pool.begin().await?;
    let old = match target {
        Target::New(_) => None,
        Target::Id(id) => Some(
            R::get(&mut tx, id)
                .await?
                .ok_or_else(|| not_found::<R>("id", id))?,
        ),
        Target::Resource(owner) => match &owner.k8s {
            Some(k8s) => R::by_uid(&mut tx, &k8s.uid).await?,
            None => None,
        },
    };
    let (row, verb) = match (old, target) {
        (Some(old), _) => {
            let row = R::update(&mut tx, old.id(), new).await?;
            let verb = (!unchanged(&old, &row)).then_some("updated");
            (row, verb)
        }
        (None, Target::New(owner) | Target::Resource(owner)) => {
            (R::insert(&mut tx, new, owner).await?, Some("created"))
        }
        (None, Target::Id(id)) => return Err(not_found::<R>("id", id)),
    };
    if let Some(verb) = verb {
        record(&mut tx, who, verb, &row).await?;
    }
    tx.commit().await?;
    Ok(row)
}

/// Deletes a row and records it in the audit log, in one transaction.
pub async fn remove<R: Owned>(pool: &PgPool, who: Option<Principal>, row: &R) -> Result<()> {
    let mut tx = pool.begin().await?;
    if R::delete(&mut tx, row.id()).await? {
        record(&mut tx, who, "deleted", row).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Records `<kind>.<verb>` on a row in the audit log.
async fn record<R: Owned>(
    conn: &mut PgConnection,
    who: Option<Principal>,
    verb: &str,
    row: &R,
) -> Result<()> {
    let action = format!("{}.{verb}", R::KIND);
    let entry = Action::new(&action, R::KIND, row.id(), row.name()).detail(row.detail());
    audit::record(conn, who, entry).await?;
    Ok(())
}
