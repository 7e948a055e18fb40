//! Alert rules: validation, and their changes through the API or by the operator.

use cicd_monitor_crds::{AlertRuleSpec, Condition};
use sqlx::{PgConnection, PgPool};

use super::owned::{self, Error, Owned, Result, Target};
use super::selector::Matcher;
use super::test_results;
use crate::auth::Principal;
use crate::db::integrations;
use crate::db::rules::{self as db, RuleRow};
use crate::domain::owner::{K8sRef, Owner, Ownership};
use crate::domain::FieldError;

/// A validated rule to store.
pub struct Prepared {
    name: String,
    spec: AlertRuleSpec,
}

/// Checks what the types cannot: ranges, globs, and that the integrations exist.
pub async fn prepare(pool: &PgPool, name: &str, spec: &AlertRuleSpec) -> Result<Prepared> {
    let mut errors: Vec<FieldError> = Vec::new();
    if name.trim().is_empty() || name.chars().count() > 253 {
        errors.push(FieldError::new("name", "must be 1 to 253 characters"));
    }
    for (field, message) in spec.condition.problems() {
        errors.push(FieldError::new(format!("spec.{field}"), message));
    }
    let sel = &spec.selector;
    let selects =
        sel.provider.is_some() || sel.repo.is_some() || !sel.workflows.is_empty() || !sel.branches.is_empty();
    if spec.condition.is_job_condition() && selects {
        errors.push(FieldError::new(
            "spec.match",
            format!(
                "must be empty for {}: it watches the runner label set or the job named in the condition",
                spec.condition.kind()
            ),
        ));
    }
    if spec.condition.is_delivery_condition() && selects {
        errors.push(FieldError::new(
            "spec.match",
            format!(
                "must be empty for {}: it watches production deployments, by the condition's service glob",
                spec.condition.kind()
            ),
        ));
    }
    if let Err(message) = super::delivery::service_glob(&spec.condition) {
        errors.push(FieldError::new("spec.condition.service", message));
    }
    if let Condition::TestFailureRate { test, test_match, .. } = &spec.condition {
        if test.is_some() && selects {
            errors.push(FieldError::new(
                "spec.match",
                "must be empty for TestFailureRate with test: it watches the test named in the condition",
            ));
        } else if test.is_none() {
            // Test figures are kept per repository and day: only the repository can be chosen.
            for (field, set) in [
                ("spec.match.provider", sel.provider.is_some()),
                ("spec.match.workflows", !sel.workflows.is_empty()),
                ("spec.match.branches", !sel.branches.is_empty()),
            ] {
                if set {
                    errors.push(FieldError::new(
                        field,
                        "does not apply to TestFailureRate: test failure rates are counted per \
                         repository and day (only match.repo selects)",
                    ));
                }
            }
        }
        if let (None, Some(pattern)) = (test, test_match) {
            if let Err(message) = test_results::test_glob(pattern) {
                errors.push(FieldError::new("spec.condition.testMatch", message));
            }
        }
    }
    if let Err(problems) = Matcher::new(&spec.selector) {
        errors.extend(
            problems
                .into_iter()
                .map(|(f, m)| FieldError::new(format!("spec.{f}"), m)),
        );
    }
    let n = &spec.notify;
    if n.group_wait.as_secs() > 86_400 {
        errors.push(FieldError::new("spec.notify.groupWait", "must be at most 1d"));
    }
    if n.repeat_interval.as_secs() < 60 {
        errors.push(FieldError::new(
            "spec.notify.repeatInterval",
            "must be at least 1m",
        ));
    }
    let names: Vec<String> = n.integrations.iter().map(|i| i.name.clone()).collect();
    let known = integrations::by_names(pool, &names).await?;
    for (i, wanted) in names.iter().enumerate() {
        if !known.iter().any(|k| &k.name == wanted) {
            errors.push(FieldError::new(
                format!("spec.notify.integrations[{i}].name"),
                format!("no integration named {wanted:?}"),
            ));
        }
    }
    if errors.is_empty() {
        Ok(Prepared {
            name: name.trim().to_owned(),
            spec: spec.clone(),
        })
    } else {
        Err(Error::Invalid(errors))
    }
}

impl Owned for RuleRow {
    const WHAT: &'static str = "alert rule";
    const KIND: &'static str = "alert_rule";
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
        RuleRow::k8s(self)
    }

    /// The condition and severity, not the whole spec.
    fn detail(&self) -> serde_json::Value {
        let spec = &self.spec.0;
        serde_json::json!({
            "source": self.source,
            "condition": spec.condition.kind(),
            "severity": spec.severity,
            "enabled": !spec.suspend,
        })
    }

    async fn get(conn: &mut PgConnection, id: i64) -> sqlx::Result<Option<Self>> {
        db::get(conn, id).await
    }

    async fn by_uid(conn: &mut PgConnection, uid: &str) -> sqlx::Result<Option<Self>> {
        db::by_uid(conn, uid).await
    }

    async fn insert(conn: &mut PgConnection, new: &Prepared, owner: &Ownership) -> sqlx::Result<Self> {
        let id = db::insert(&mut *conn, &new.name, &new.spec, owner).await?;
        db::get(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    async fn update(conn: &mut PgConnection, id: i64, new: &Prepared) -> sqlx::Result<Self> {
        db::update(&mut *conn, id, &new.name, &new.spec).await?;
        db::get(conn, id).await?.ok_or(sqlx::Error::RowNotFound)
    }

    async fn delete(conn: &mut PgConnection, id: i64) -> sqlx::Result<bool> {
        db::delete(conn, id).await
    }
}

/// One alert rule; 404 when there is none.
pub async fn get(pool: &PgPool, id: i64) -> Result<RuleRow> {
    owned::get(pool, id).await
}

/// Creates an alert rule owned by the API.
pub async fn create(
    pool: &PgPool,
    who: Option<Principal>,
    name: &str,
    spec: &AlertRuleSpec,
) -> Result<RuleRow> {
    let new = prepare(pool, name, spec).await?;
    owned::write(pool, who, Target::New(&Ownership::api()), &new, |_, _| false).await
}

/// Replaces an alert rule the API owns. Every replacement is audited.
pub async fn replace(
    pool: &PgPool,
    who: Option<Principal>,
    id: i64,
    name: &str,
    spec: &AlertRuleSpec,
) -> Result<RuleRow> {
    owned::api_owned::<RuleRow>(pool, id).await?;
    let new = prepare(pool, name, spec).await?;
    owned::write(pool, who, Target::Id(id), &new, |_, _| false).await
}

/// Deletes an alert rule the API owns (its incidents and pending notifications go with it).
pub async fn remove(pool: &PgPool, who: Option<Principal>, id: i64) -> Result<()> {
    let row = owned::api_owned::<RuleRow>(pool, id).await?;
    owned::remove(pool, who, &row).await
}

/// Creates or updates the rule of the `AlertRule` resource `namespace/name` with this uid; it is
/// named `namespace/name`. The operator re-applies unchanged resources on every resync: only
/// changes are audited.
pub async fn upsert_k8s(
    pool: &PgPool,
    who: Option<Principal>,
    uid: &str,
    namespace: &str,
    name: &str,
    spec: &AlertRuleSpec,
) -> Result<RuleRow> {
    let new = prepare(pool, &format!("{namespace}/{name}"), spec).await?;
    let owner = Ownership::kubernetes(uid.to_owned(), namespace.to_owned(), name.to_owned());
    owned::write(pool, who, Target::Resource(&owner), &new, |old: &RuleRow, row| {
        old.name == row.name && old.spec.0 == row.spec.0
    })
    .await
}

/// Deletes the rule of an `AlertRule` resource; 404 when there is none.
pub async fn remove_k8s(pool: &PgPool, who: Option<Principal>, uid: &str) -> Result<()> {
    let row = owned::by_uid::<RuleRow>(pool, uid).await?;
    owned::remove(pool, who, &row).await
}
