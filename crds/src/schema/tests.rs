use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

use crate::{AlertRule, Integration};

fn schema_of(crd: &CustomResourceDefinition) -> Value {
    let version = &crd.spec.versions[0];
    let schema = version
        .schema
        .as_ref()
        .and_then(|s| s.open_api_v3_schema.as_ref());
    serde_json::to_value(schema.expect("the CRD has a schema")).expect("a schema serializes")
}

/// Checks the rules of a structural schema (Kubernetes "Specifying a structural schema"): every
/// node has a `type` (or is int-or-string / preserve-unknown-fields); inside `allOf`, `anyOf`,
/// `oneOf` and `not` there is no `type`, `description`, `default`, `nullable`,
/// `additionalProperties` or `x-kubernetes-*` and every property named there is declared beside
/// them; no `$ref`, `definitions` or `uniqueItems: true`. Returns the problems as paths.
fn structural_problems(node: &Value, path: &str, out: &mut Vec<String>) {
    let Some(obj) = node.as_object() else {
        out.push(format!("{path}: not an object"));
        return;
    };
    let typed = obj.contains_key("type")
        || obj.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || obj.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if !typed {
        out.push(format!("{path}: no type"));
    }
    for banned in ["$ref", "definitions", "$defs", "const"] {
        if obj.contains_key(banned) {
            out.push(format!("{path}: {banned}"));
        }
    }
    if obj.get("uniqueItems") == Some(&Value::Bool(true)) {
        out.push(format!("{path}: uniqueItems"));
    }
    if let Some(Value::Array(types)) = obj.get("type") {
        out.push(format!("{path}: type is a list {types:?}"));
    }
    let declared: Vec<&String> = obj
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().collect())
        .unwrap_or_default();
    for junctor in ["allOf", "anyOf", "oneOf", "not"] {
        let branches = match obj.get(junctor) {
            Some(Value::Array(b)) => b.clone(),
            Some(b) => vec![b.clone()],
            None => continue,
        };
        for (i, branch) in branches.iter().enumerate() {
            branch_problems(branch, &declared, &format!("{path}.{junctor}[{i}]"), out);
        }
    }
    if let Some(Value::Object(props)) = obj.get("properties") {
        for (name, prop) in props {
            structural_problems(prop, &format!("{path}.{name}"), out);
        }
    }
    if let Some(items) = obj.get("items") {
        structural_problems(items, &format!("{path}[]"), out);
    }
    if let Some(additional @ Value::Object(_)) = obj.get("additionalProperties") {
        structural_problems(additional, &format!("{path}{{}}"), out);
    }
}

fn branch_problems(branch: &Value, declared: &[&String], path: &str, out: &mut Vec<String>) {
    let Some(obj) = branch.as_object() else {
        return;
    };
    for (key, value) in obj {
        let banned = [
            "type",
            "description",
            "default",
            "nullable",
            "additionalProperties",
        ];
        if banned.contains(&key.as_str()) || key.starts_with("x-kubernetes-") {
            out.push(format!("{path}: {key} inside a junctor"));
        }
        if key == "properties" {
            for name in value.as_object().into_iter().flat_map(|p| p.keys()) {
                if !declared.contains(&name) {
                    out.push(format!("{path}: property {name} not declared outside"));
                }
            }
        }
    }
}

fn structural(crd: &CustomResourceDefinition) -> Vec<String> {
    let mut out = Vec::new();
    structural_problems(&schema_of(crd), "", &mut out);
    out
}

#[test]
fn both_schemas_are_structural() {
    assert_eq!(structural(&AlertRule::crd()), Vec::<String>::new());
    assert_eq!(structural(&Integration::crd()), Vec::<String>::new());
}

#[test]
fn the_checker_catches_what_kubernetes_rejects() {
    let bad = serde_json::json!({
        "type": "object",
        "properties": {
            "a": {"oneOf": [{"type": "object", "properties": {"x": {"type": "string"}}}]},
            "b": {"type": ["string", "null"]},
            "c": {"description": "untyped"},
        }
    });
    let mut out = Vec::new();
    structural_problems(&bad, "", &mut out);
    assert!(out.contains(&".a: no type".to_string()), "{out:?}");
    assert!(
        out.contains(&".a.oneOf[0]: type inside a junctor".to_string()),
        "{out:?}"
    );
    assert!(
        out.contains(&".a.oneOf[0]: property x not declared outside".to_string()),
        "{out:?}"
    );
    assert!(out.iter().any(|p| p.starts_with(".b: type is a list")), "{out:?}");
    assert!(out.contains(&".c: no type".to_string()), "{out:?}");
}

fn rules_at(schema: &Value, pointer: &str) -> Vec<String> {
    schema
        .pointer(&format!("{pointer}/x-kubernetes-validations"))
        .and_then(Value::as_array)
        .map(|rules| {
            rules
                .iter()
                .map(|r| r["rule"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn condition_rules_cover_every_type_and_field() {
    let schema = schema_of(&AlertRule::crd());
    let condition = "/properties/spec/properties/condition";
    let rules = rules_at(&schema, condition);
    for field in [
        "threshold",
        "window",
        "percent",
        "baselineWindow",
        "labels",
        "job",
        "for",
    ] {
        let field = super::cel_field(field);
        assert!(
            rules
                .iter()
                .any(|r| r.ends_with(&format!("|| has(self.{field})"))),
            "no rule requires {field}: {rules:#?}"
        );
    }
    for field in [
        "onlyFirst",
        "threshold",
        "window",
        "minRuns",
        "stat",
        "percent",
        "baselineWindow",
        "labels",
        "job",
        "for",
        "test",
        "testMatch",
    ] {
        let field = super::cel_field(field);
        assert!(
            rules
                .iter()
                .any(|r| r.starts_with(&format!("!has(self.{field})"))),
            "no rule limits {field} to its types: {rules:#?}"
        );
    }
    assert!(rules.iter().any(|r| r.contains("self.threshold <= 100")));
    // `for` is a CEL reserved word: the apiserver names it `__for__`.
    assert!(rules
        .iter()
        .all(|r| !r.contains("self.for ") && !r.ends_with("self.for)")));
    assert!(rules
        .iter()
        .any(|r| r.starts_with("self.type != 'QueuedJobs'") && r.contains("self.threshold >= 1")));
    assert!(rules
        .iter()
        .any(|r| r.starts_with("self.type != 'JobFailureRate'") && r.contains("self.threshold <= 100")));
    assert!(rules
        .iter()
        .any(|r| r.starts_with("self.type != 'TestFailureRate'") && r.contains("self.threshold <= 100")));
    assert!(rules
        .iter()
        .any(|r| r.starts_with("self.type != 'TestFailureRate'")
            && r.ends_with("has(self.test) != has(self.testMatch)")));
    assert!(rules.iter().any(|r| r.ends_with("self.stat in ['p50', 'p95']")));
    assert!(rules.iter().any(|r| r.ends_with("self.stat in ['avg', 'p95']")));
    let types = schema.pointer(&format!("{condition}/properties/type/enum"));
    assert_eq!(
        types,
        Some(&serde_json::json!(super::CONDITION_TYPES)),
        "the enum lists every condition type"
    );
    // Every variant of the Rust enum is in the CRD's list.
    for c in crate::alert_rule::tests::one_of_each_condition() {
        assert!(super::CONDITION_TYPES.contains(&c.kind()), "{}", c.kind());
    }
}

#[test]
fn integration_rules_tie_type_to_its_block_and_forbid_secret_values() {
    let schema = schema_of(&Integration::crd());
    let spec = "/properties/spec";
    let rules = rules_at(&schema, spec);
    assert!(rules.contains(&"self.type != 'Slack' || has(self.slack)".to_string()));
    assert!(rules.contains(&"self.type != 'Webhook' || !has(self.slack)".to_string()));
    for secret in [
        "/properties/slack/properties/webhookUrl",
        "/properties/webhook/properties/url",
        "/properties/webhook/properties/hmacSecret",
    ] {
        let rules = rules_at(&schema, &format!("{spec}{secret}"));
        assert!(rules.contains(&"!has(self.value)".to_string()), "{secret}");
        assert!(rules.contains(&"has(self.secretKeyRef)".to_string()), "{secret}");
    }
}

#[test]
fn lists_keyed_by_name_or_type_are_list_maps() {
    let rule = schema_of(&AlertRule::crd());
    for (schema, pointer, key) in [
        (
            &rule,
            "/properties/spec/properties/notify/properties/integrations",
            "name",
        ),
        (&rule, "/properties/status/properties/conditions", "type"),
        (
            &schema_of(&Integration::crd()),
            "/properties/status/properties/conditions",
            "type",
        ),
    ] {
        let list = schema.pointer(pointer).expect(pointer);
        assert_eq!(list["x-kubernetes-list-type"], "map", "{pointer}");
        assert_eq!(list["x-kubernetes-list-map-keys"], serde_json::json!([key]));
    }
}

#[test]
fn bounds_and_enums_are_in_the_schema() {
    let schema = schema_of(&AlertRule::crd());
    let spec = "/properties/spec/properties";
    let at = |p: &str| schema.pointer(&format!("{spec}{p}")).cloned().unwrap_or_default();
    assert_eq!(
        at("/severity/enum"),
        serde_json::json!(["info", "warning", "critical"])
    );
    assert_eq!(
        at("/condition/properties/stat/enum"),
        serde_json::json!(["avg", "p50", "p95"])
    );
    assert_eq!(at("/condition/properties/labels/minItems"), 1);
    assert_eq!(at("/condition/properties/labels/items/minLength"), 1);
    let mut required: Vec<String> =
        serde_json::from_value(at("/condition/properties/job/required")).unwrap_or_default();
    required.sort();
    assert_eq!(required, ["name", "repo", "workflow"]);
    let mut required: Vec<String> =
        serde_json::from_value(at("/condition/properties/test/required")).unwrap_or_default();
    required.sort();
    assert_eq!(required, ["name", "repo"]);
    assert_eq!(at("/condition/properties/testMatch/minLength"), 1);
    assert_eq!(at("/condition/properties/for/pattern"), crate::span::SPAN_PATTERN);
    assert_eq!(at("/condition/properties/percent/exclusiveMinimum"), true);
    let span = crate::span::SPAN_PATTERN;
    assert_eq!(at("/condition/properties/window/pattern"), span);
    assert_eq!(at("/notify/properties/groupWait/pattern"), span);
    assert_eq!(at("/condition/required"), serde_json::json!(["type"]));
}

/// The `format`s of integer nodes, with their paths.
fn integer_formats(node: &Value, path: &str, out: &mut Vec<String>) {
    match node {
        Value::Object(obj) => {
            if obj.get("type") == Some(&Value::from("integer")) {
                if let Some(f) = obj.get("format") {
                    out.push(format!("{path}: {f}"));
                }
            }
            for (k, v) in obj {
                integer_formats(v, &format!("{path}/{k}"), out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                integer_formats(v, &format!("{path}/{i}"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn integer_formats_are_ones_kubernetes_knows() {
    for crd in [AlertRule::crd(), Integration::crd()] {
        let schema = schema_of(&crd);
        let mut formats = Vec::new();
        integer_formats(&schema, "", &mut formats);
        let unknown: Vec<_> = formats
            .iter()
            .filter(|f| !f.ends_with("\"int32\"") && !f.ends_with("\"int64\""))
            .collect();
        assert!(unknown.is_empty(), "{}: {unknown:?}", crd.spec.names.kind);
    }
    // u32 fields keep their range as bounds.
    let schema = schema_of(&AlertRule::crd());
    for pointer in [
        "/properties/spec/properties/condition/properties/minRuns",
        "/properties/status/properties/firing",
    ] {
        let node = schema.pointer(pointer).expect(pointer);
        assert_eq!(node["minimum"], 0.0, "{pointer}");
        assert_eq!(node["maximum"], f64::from(u32::MAX), "{pointer}");
    }
}

#[test]
fn names_columns_and_subresources() {
    for (crd, short, columns) in [
        (
            AlertRule::crd(),
            "cicdrule",
            &["Ready", "Severity", "Condition", "Firing", "Age"][..],
        ),
        (Integration::crd(), "cicdint", &["Ready", "Type", "Age"]),
    ] {
        assert_eq!(crd.spec.group, "cicd-monitor.dev");
        assert_eq!(crd.spec.scope, "Namespaced");
        assert_eq!(
            crd.spec.names.short_names.as_deref(),
            Some(&[short.to_string()][..])
        );
        assert_eq!(
            crd.spec.names.categories.as_deref(),
            Some(&["cicd-monitor".to_string()][..])
        );
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.subresources.as_ref().is_some_and(|s| s.status.is_some()));
        let names: Vec<_> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert_eq!(names, columns);
        let ready = &version.additional_printer_columns.as_ref().expect("columns")[0];
        assert_eq!(
            ready.json_path,
            r#".status.conditions[?(@.type=="Ready")].status"#
        );
    }
}
