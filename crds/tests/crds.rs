//! The committed CRD manifests match the types, and the examples in `crds/examples/` read into
//! the types and pass (or, for `invalid-*.yaml`, fail) the CRDs' CEL rules.

use std::path::PathBuf;

use cicd_monitor_crds::crdgen::{manifests, COMMAND, DIRS};
use cicd_monitor_crds::{AlertRule, Integration};
use kube::CustomResourceExt;
use serde::Deserialize;
use serde_json::Value;

fn root() -> PathBuf {
    cicd_monitor_crds::crdgen::workspace_root()
}

#[test]
fn committed_crd_manifests_are_what_the_types_generate() {
    for dir in DIRS {
        for (file, yaml) in manifests() {
            let path = root().join(dir).join(file);
            let committed = std::fs::read_to_string(&path).unwrap_or_default();
            assert!(
                committed == yaml,
                "{} differs from the Rust types: run `{COMMAND}` and commit the result",
                path.display()
            );
        }
    }
}

/// Every YAML document of every file in `crds/examples/`, as `(file name, document)`.
fn examples() -> Vec<(String, Value)> {
    let dir = root().join("crds/examples");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("crds/examples exists")
        .map(|e| e.expect("a directory entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    let mut out = Vec::new();
    for path in files {
        let name = path
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let text = std::fs::read_to_string(&path).expect("readable example");
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value = Value::deserialize(doc).unwrap_or_else(|e| panic!("{name}: {e}"));
            out.push((name.clone(), value));
        }
    }
    out
}

/// The CEL rules of the CRD of `kind` that `doc` breaks, evaluated client-side (kube-cel). Rules
/// kube-cel cannot evaluate (it lacks CEL's `type()`, which the `threshold` rules use) are left
/// out: the apiserver evaluates those.
fn cel_errors(kind: &str, doc: &Value) -> Vec<String> {
    let crd = match kind {
        "AlertRule" => AlertRule::crd(),
        "Integration" => Integration::crd(),
        other => panic!("no CRD for {other}"),
    };
    let schema = crd.spec.versions[0]
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref())
        .map(serde_json::to_value)
        .expect("a schema")
        .expect("a schema serializes");
    match kube::core::cel::Validator::new().validate(&schema, doc, None) {
        Ok(()) => Vec::new(),
        Err(errors) => errors
            .iter()
            .filter(|e| !matches!(e.kind, kube::core::cel::ErrorKind::UnsupportedReference))
            .map(|e| format!("{}: {} ({})", e.field_path, e.message, e.rule))
            .collect(),
    }
}

/// Reads a custom resource into its type; `Err` with the reason when it does not read, or (for
/// an AlertRule) when its condition is out of range, which is what the operator checks too.
fn read(kind: &str, doc: &Value) -> Result<(), String> {
    match kind {
        "AlertRule" => {
            let rule = serde_json::from_value::<AlertRule>(doc.clone()).map_err(|e| e.to_string())?;
            match rule.spec.condition.problems().first() {
                Some((field, problem)) => Err(format!("{field} {problem}")),
                None => Ok(()),
            }
        }
        "Integration" => serde_json::from_value::<Integration>(doc.clone())
            .map(|_| ())
            .map_err(|e| e.to_string()),
        other => panic!("unexpected kind {other}"),
    }
}

#[test]
fn valid_examples_read_into_the_types_and_pass_the_cel_rules() {
    let examples = examples();
    let mut kinds = Vec::new();
    for (file, doc) in examples.iter().filter(|(f, _)| !f.starts_with("invalid-")) {
        let kind = doc["kind"].as_str().unwrap_or_default();
        if kind == "Secret" {
            continue;
        }
        assert_eq!(doc["apiVersion"], "cicd-monitor.dev/v1alpha1", "{file}");
        read(kind, doc).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(cel_errors(kind, doc), Vec::<String>::new(), "{file}");
        kinds.push(match kind {
            "AlertRule" => doc["spec"]["condition"]["type"].as_str().unwrap_or_default(),
            _ => doc["spec"]["type"].as_str().unwrap_or_default(),
        });
    }
    for expected in cicd_monitor_crds::schema::CONDITION_TYPES
        .iter()
        .chain(&["Slack", "Webhook"])
    {
        assert!(kinds.contains(expected), "no example of {expected}");
    }
}

#[test]
fn invalid_examples_are_rejected() {
    // Which check rejects each: a CEL rule run here, or the schema / a CEL rule kube-cel cannot
    // run (`type()`), which the types and `Condition::problems` mirror.
    let expected = [
        ("invalid-condition-fields.yaml", "cel"),
        ("invalid-failure-rate.yaml", "types"),
        ("invalid-queued-jobs.yaml", "cel"),
        ("invalid-secret-by-value.yaml", "cel"),
        ("invalid-severity.yaml", "types"),
        ("invalid-test-failure-rate.yaml", "cel"),
        ("invalid-type-without-block.yaml", "cel"),
    ];
    let invalid: Vec<_> = examples()
        .into_iter()
        .filter(|(f, _)| f.starts_with("invalid-"))
        .collect();
    let files: Vec<_> = invalid.iter().map(|(f, _)| f.as_str()).collect();
    assert_eq!(
        files,
        expected.map(|(f, _)| f),
        "one document per invalid example"
    );
    for ((file, doc), (_, by)) in invalid.iter().zip(expected) {
        let kind = doc["kind"].as_str().unwrap_or_default();
        match by {
            "cel" => assert!(!cel_errors(kind, doc).is_empty(), "{file} passes the CEL rules"),
            _ => assert!(read(kind, doc).is_err(), "{file} reads into the types"),
        }
    }
}

#[test]
fn a_custom_resource_round_trips() {
    let doc = examples()
        .into_iter()
        .find(|(f, d)| f == "alertrule-main-is-red.yaml" && d["kind"] == "AlertRule")
        .expect("the main-is-red example")
        .1;
    let rule: AlertRule = serde_json::from_value(doc).expect("reads");
    let back: AlertRule =
        serde_json::from_value(serde_json::to_value(&rule).expect("writes")).expect("reads back");
    assert_eq!(back, rule);
    assert_eq!(rule.spec.notify.integrations.len(), 2);
}
