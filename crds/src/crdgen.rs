//! The CustomResourceDefinition manifests, as committed in `crds/` and
//! `charts/ci-cd-monitor/crds/` (written by the `crdgen` binary, checked by a test).

use std::path::PathBuf;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;

use crate::{AlertRule, Integration};

/// Directories, relative to the workspace root, that hold the generated manifests.
pub const DIRS: &[&str] = &["crds", "charts/ci-cd-monitor/crds"];

/// The workspace's root (every crate sits directly in it), for the tests and tools that read its
/// files. `CARGO_MANIFEST_DIR` from the environment cargo runs them in comes first: a target directory
/// shared between checkouts (the cache `make` uses) can hold a build that cargo still finds fresh but
/// that was compiled in another checkout, and so names that checkout's path at compile time.
pub fn workspace_root() -> PathBuf {
    let crate_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    crate_dir.join("..")
}

/// The command that regenerates the manifests.
pub const COMMAND: &str = "cargo run -p cicd-monitor-crds --bin crdgen";

/// Both CRDs.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![AlertRule::crd(), Integration::crd()]
}

/// `(file name, YAML)` of each manifest.
pub fn manifests() -> Vec<(&'static str, String)> {
    [
        ("alertrule.yaml", AlertRule::crd()),
        ("integration.yaml", Integration::crd()),
    ]
    .into_iter()
    .map(|(file, crd)| {
        let yaml = serde_yaml::to_string(&crd).expect("a CRD serializes to YAML");
        let header = format!("# Generated from the Rust types by `{COMMAND}`; do not edit.\n");
        (file, header + &yaml)
    })
    .collect()
}
