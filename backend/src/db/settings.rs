//! The `settings` table: runtime policy, one JSON value per key.

use serde_json::Value;
use sqlx::PgExecutor;

use crate::domain::settings::Settings;

/// The current settings (defaults for keys not stored).
pub async fn load(db: impl PgExecutor<'_>) -> sqlx::Result<Settings> {
    let rows = sqlx::query!("select key, value from settings")
        .fetch_all(db)
        .await?;
    Ok(Settings::from_stored(
        rows.iter().map(|r| (r.key.as_str(), &r.value)),
    ))
}

/// Stores every setting, in one statement.
pub async fn save(db: impl PgExecutor<'_>, settings: &Settings) -> sqlx::Result<()> {
    let (keys, values): (Vec<String>, Vec<Value>) = settings
        .to_stored()
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .unzip();
    sqlx::query!(
        "insert into settings (key, value, updated_at) \
         select key, value, now() from unnest($1::text[], $2::jsonb[]) as u(key, value) \
         on conflict (key) do update set value = excluded.value, updated_at = excluded.updated_at",
        &keys,
        &values,
    )
    .execute(db)
    .await
    .map(drop)
}

/// Stores `value` under `key` unless a value is stored already (initial values from the
/// configuration, which the settings then override).
pub async fn seed(db: impl PgExecutor<'_>, key: &str, value: &Value) -> sqlx::Result<()> {
    sqlx::query(
        "insert into settings (key, value, updated_at) values ($1, $2, now()) on conflict (key) do nothing",
    )
    .bind(key)
    .bind(value)
    .execute(db)
    .await
    .map(drop)
}
