//! Who owns an alert rule or an integration, and so who may change it.

use serde::{Deserialize, Serialize};
use sqlx::postgres::{PgArgumentBuffer, PgTypeInfo, PgValueRef};
use sqlx::Postgres;

/// Who owns an alert rule or an integration. Stored in the `source` columns and serialised as
/// `api`, `kubernetes` or `env`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Owner {
    /// Created through the API; only the API changes it.
    Api,
    /// Declared by a custom resource; only the operator changes it.
    Kubernetes,
    /// Declared by the server's environment (the integration `SLACK_WEBHOOK_URL` declares).
    Env,
}

impl Owner {
    pub fn as_str(self) -> &'static str {
        match self {
            Owner::Api => "api",
            Owner::Kubernetes => "kubernetes",
            Owner::Env => "env",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "api" => Some(Owner::Api),
            "kubernetes" => Some(Owner::Kubernetes),
            "env" => Some(Owner::Env),
            _ => None,
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The custom resource that owns a row.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct K8sRef {
    pub uid: String,
    pub namespace: String,
    pub name: String,
}

impl K8sRef {
    /// From the `k8s_uid`, `k8s_namespace`, `k8s_name` columns (`None` unless Kubernetes owns the row).
    pub fn from_columns(
        uid: &Option<String>,
        namespace: &Option<String>,
        name: &Option<String>,
    ) -> Option<Self> {
        Some(K8sRef {
            uid: uid.clone()?,
            namespace: namespace.clone().unwrap_or_default(),
            name: name.clone().unwrap_or_default(),
        })
    }
}

/// The owner of a row being created, with the custom resource when Kubernetes owns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ownership {
    pub owner: Owner,
    pub k8s: Option<K8sRef>,
}

impl Ownership {
    pub fn api() -> Self {
        Ownership {
            owner: Owner::Api,
            k8s: None,
        }
    }

    /// The custom resource `namespace/name` with this uid.
    pub fn kubernetes(uid: String, namespace: String, name: String) -> Self {
        Ownership {
            owner: Owner::Kubernetes,
            k8s: Some(K8sRef { uid, namespace, name }),
        }
    }
}

/// Owners are stored as text (checked by the column's constraint).
impl sqlx::Type<Postgres> for Owner {
    fn type_info() -> PgTypeInfo {
        <&str as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <&str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, Postgres> for Owner {
    fn encode_by_ref(
        &self,
        buf: &mut PgArgumentBuffer,
    ) -> Result<sqlx::encode::IsNull, sqlx::error::BoxDynError> {
        <&str as sqlx::Encode<Postgres>>::encode(self.as_str(), buf)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for Owner {
    fn decode(value: PgValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        let s = <&str as sqlx::Decode<Postgres>>::decode(value)?;
        Owner::parse(s).ok_or_else(|| format!("unknown owner {s:?}").into())
    }
}

#[cfg(test)]
mod tests {
    use super::Owner;

    #[test]
    fn owners_read_and_write_the_strings_of_the_database_and_the_api() {
        for (owner, text) in [
            (Owner::Api, "api"),
            (Owner::Kubernetes, "kubernetes"),
            (Owner::Env, "env"),
        ] {
            assert_eq!(owner.as_str(), text);
            assert_eq!(Owner::parse(text), Some(owner));
            assert_eq!(serde_json::to_value(owner).unwrap(), text);
            assert_eq!(serde_json::from_value::<Owner>(text.into()).unwrap(), owner);
        }
        assert_eq!(Owner::parse("API"), None);
    }
}
