//! The CRD schemas of `AlertRule` and `Integration`.
//!
//! The spec types derive `JsonSchema` for the REST API's OpenAPI document, where `condition` is a
//! tagged union (`oneOf`). Kubernetes only accepts *structural* schemas: one schema per property,
//! declared once, with no types inside `oneOf`. The condition variants share property names with
//! different types (`threshold` is a count, a percentage or a span), which kube's
//! `StructuralSchemaRewriter` cannot merge, so the CRDs use `#[kube(schema = "manual")]` and the
//! schema below: the derived spec schema, with `condition` written as one flat object whose
//! per-type requirements are CEL rules (`x-kubernetes-validations`), plus the rules that span
//! fields elsewhere (integration type ↔ block, secrets by reference only).

use std::borrow::Cow;

use schemars::{JsonSchema, Schema, SchemaGenerator};
use serde_json::{json, Value};

use crate::alert_rule::{AlertRule, AlertRuleSpec, AlertRuleStatus, MAX_TEST_MATCH_LEN};
use crate::integration::{Integration, IntegrationSpec, IntegrationStatus};
use crate::span::SPAN_PATTERN;

impl JsonSchema for AlertRule {
    fn schema_name() -> Cow<'static, str> {
        "AlertRule".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut spec = g.subschema_for::<AlertRuleSpec>().to_value();
        spec["description"] = json!("Which runs the rule watches, what fires it, how it notifies.");
        *property(&mut spec, &["condition"]) = condition_schema();
        let integrations = property(&mut spec, &["notify", "integrations"]);
        list_map(integrations, "name");
        let mut status = g.subschema_for::<Option<AlertRuleStatus>>().to_value();
        list_map(property(&mut status, &["conditions"]), "type");
        root(
            "A rule that watches CI/CD runs and notifies Integrations when its condition holds.",
            spec,
            status,
        )
    }
}

impl JsonSchema for Integration {
    fn schema_name() -> Cow<'static, str> {
        "Integration".into()
    }

    fn json_schema(g: &mut SchemaGenerator) -> Schema {
        let mut spec = g.subschema_for::<IntegrationSpec>().to_value();
        spec["description"] = json!("Where notifications go: `type` and its block.");
        add_rules(&mut spec, integration_rules());
        for path in [
            &["slack", "webhookUrl"][..],
            &["webhook", "url"],
            &["webhook", "hmacSecret"],
        ] {
            let secret = property(&mut spec, path);
            add_rules(secret, secret_rules());
            for field in ["name", "key"] {
                property(secret, &["secretKeyRef", field])["minLength"] = json!(1);
            }
        }
        let mut status = g.subschema_for::<Option<IntegrationStatus>>().to_value();
        list_map(property(&mut status, &["conditions"]), "type");
        root(
            "Where AlertRules send notifications (Slack or a signed webhook).",
            spec,
            status,
        )
    }
}

fn root(description: &str, spec: Value, status: Value) -> Schema {
    let mut schema = json!({
        "description": description,
        "type": "object",
        "required": ["spec"],
        "properties": {"spec": spec, "status": status},
    });
    kubernetes_formats(&mut schema);
    Schema::try_from(schema).expect("an object is a schema")
}

/// Kubernetes knows the integer formats `int32` and `int64` only: the apiserver warns about any
/// other (`unrecognized format "uint32"`) and ignores it. schemars writes `uint8`…`uint64` for
/// unsigned fields, so those become plain integers with the bounds the format stood for.
fn kubernetes_formats(schema: &mut Value) {
    let Some(obj) = schema.as_object_mut() else {
        return;
    };
    let integer = match obj.get("type") {
        Some(Value::String(t)) => t == "integer",
        // Before kube turns `["integer", "null"]` into `nullable: true`.
        Some(Value::Array(ts)) => ts.iter().any(|t| t == "integer"),
        _ => false,
    };
    if integer {
        let format = obj.get("format").and_then(Value::as_str).map(str::to_owned);
        if let Some(format) = format.filter(|f| f != "int32" && f != "int64") {
            obj.remove("format");
            let max = match format.as_str() {
                "uint8" => Some(u64::from(u8::MAX)),
                "uint16" => Some(u64::from(u16::MAX)),
                "uint32" => Some(u64::from(u32::MAX)),
                _ => None,
            };
            if let Some(max) = max {
                obj.entry("maximum").or_insert(json!(max));
            }
        }
    }
    for key in ["properties", "patternProperties"] {
        if let Some(Value::Object(props)) = obj.get_mut(key) {
            props.values_mut().for_each(kubernetes_formats);
        }
    }
    for key in ["items", "additionalProperties", "not"] {
        if let Some(sub) = obj.get_mut(key) {
            kubernetes_formats(sub);
        }
    }
    for key in ["allOf", "anyOf", "oneOf"] {
        if let Some(Value::Array(subs)) = obj.get_mut(key) {
            subs.iter_mut().for_each(kubernetes_formats);
        }
    }
}

/// The schema object of the property at `path` (following `properties`); panics when absent,
/// because then the types and this module disagree.
fn property<'a>(schema: &'a mut Value, path: &[&str]) -> &'a mut Value {
    path.iter().fold(schema, |s, name| {
        s.get_mut("properties")
            .and_then(|p| p.get_mut(*name))
            .unwrap_or_else(|| panic!("no property {name:?} in the schema ({path:?})"))
    })
}

/// Marks an array as a map keyed by `key`, so server-side apply merges items by key and the
/// apiserver rejects duplicates.
fn list_map(array: &mut Value, key: &str) {
    array["x-kubernetes-list-type"] = json!("map");
    array["x-kubernetes-list-map-keys"] = json!([key]);
}

fn add_rules(schema: &mut Value, rules: Vec<Value>) {
    let list = schema
        .as_object_mut()
        .expect("an object schema")
        .entry("x-kubernetes-validations")
        .or_insert_with(|| json!([]));
    list.as_array_mut()
        .expect("x-kubernetes-validations is a list")
        .extend(rules);
}

/// A CEL rule with its message.
fn rule(rule: &str, message: &str) -> Value {
    json!({"rule": rule, "message": message})
}

/// Which condition types use each field; any other type must leave the field out.
const FIELDS: &[(&str, &[&str])] = &[
    ("onlyFirst", &["RunFailed"]),
    (
        "threshold",
        &[
            "ConsecutiveFailures",
            "FailureRate",
            "Duration",
            "QueueTime",
            "JobQueueTime",
            "QueuedJobs",
            "JobFailureRate",
            "JobDuration",
            "TestFailureRate",
            "ChangeFailureRate",
            "LeadTime",
        ],
    ),
    (
        "window",
        &[
            "FailureRate",
            "Duration",
            "DurationRegression",
            "QueueTime",
            "NoSuccessWithin",
            "JobQueueTime",
            "JobFailureRate",
            "JobDuration",
            "FlakyTest",
            "TestFailureRate",
            "ChangeFailureRate",
            "LeadTime",
        ],
    ),
    ("minRuns", &["FailureRate", "JobFailureRate", "TestFailureRate"]),
    ("minDeployments", &["ChangeFailureRate"]),
    ("service", &["DeploymentFailed", "ChangeFailureRate", "LeadTime"]),
    (
        "stat",
        &["Duration", "QueueTime", "JobQueueTime", "JobDuration", "LeadTime"],
    ),
    ("percent", &["DurationRegression"]),
    ("baselineWindow", &["DurationRegression"]),
    ("labels", &["JobQueueTime", "QueuedJobs"]),
    ("for", &["QueuedJobs"]),
    ("job", &["JobFailureRate", "JobDuration"]),
    ("test", &["TestFailureRate"]),
    ("testMatch", &["TestFailureRate"]),
];

/// Fields each condition type needs.
const REQUIRED: &[(&str, &[&str])] = &[
    (
        "threshold",
        &[
            "ConsecutiveFailures",
            "FailureRate",
            "Duration",
            "QueueTime",
            "JobQueueTime",
            "QueuedJobs",
            "JobFailureRate",
            "JobDuration",
            "TestFailureRate",
            "ChangeFailureRate",
            "LeadTime",
        ],
    ),
    (
        "window",
        &[
            "FailureRate",
            "Duration",
            "DurationRegression",
            "QueueTime",
            "NoSuccessWithin",
            "JobQueueTime",
            "JobFailureRate",
            "JobDuration",
            "TestFailureRate",
            "ChangeFailureRate",
            "LeadTime",
        ],
    ),
    ("percent", &["DurationRegression"]),
    ("baselineWindow", &["DurationRegression"]),
    ("labels", &["JobQueueTime", "QueuedJobs"]),
    ("for", &["QueuedJobs"]),
    ("job", &["JobFailureRate", "JobDuration"]),
];

/// The condition types, as in `type`.
pub const CONDITION_TYPES: &[&str] = &[
    "RunFailed",
    "ConsecutiveFailures",
    "FailureRate",
    "Duration",
    "DurationRegression",
    "QueueTime",
    "NoSuccessWithin",
    "JobQueueTime",
    "QueuedJobs",
    "JobFailureRate",
    "JobDuration",
    "FlakyTest",
    "TestFailureRate",
    "DeploymentFailed",
    "ChangeFailureRate",
    "LeadTime",
];

/// A property as CEL names it: the apiserver escapes CEL's reserved words (`for` is
/// `__for__`).
pub fn cel_field(field: &str) -> String {
    const RESERVED: &[&str] = &[
        "true",
        "false",
        "null",
        "in",
        "as",
        "break",
        "const",
        "continue",
        "else",
        "for",
        "function",
        "if",
        "import",
        "let",
        "loop",
        "package",
        "namespace",
        "return",
        "var",
        "void",
        "while",
    ];
    if RESERVED.contains(&field) {
        format!("__{field}__")
    } else {
        field.to_owned()
    }
}

fn cel_list(types: &[&str]) -> String {
    let quoted: Vec<String> = types.iter().map(|t| format!("'{t}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// `condition` as one structural object: every field of every type at the top, `type` an enum,
/// and CEL rules for which fields each type needs and allows and how `threshold` is read.
fn condition_schema() -> Value {
    let span =
        |description: &str| json!({"type": "string", "pattern": SPAN_PATTERN, "description": description});
    let mut rules = Vec::new();
    for (field, types) in REQUIRED {
        rules.push(rule(
            &format!(
                "!(self.type in {}) || has(self.{})",
                cel_list(types),
                cel_field(field)
            ),
            &format!("{field} is required for type {}", types.join(", ")),
        ));
    }
    for (field, types) in FIELDS {
        rules.push(rule(
            &format!(
                "!has(self.{}) || self.type in {}",
                cel_field(field),
                cel_list(types)
            ),
            &format!("{field} applies only to type {}", types.join(", ")),
        ));
    }
    rules.extend([
        rule(
            "self.type != 'ConsecutiveFailures' || !has(self.threshold) || (type(self.threshold) == int && self.threshold >= 1)",
            "ConsecutiveFailures: threshold is a whole number of runs, at least 1",
        ),
        rule(
            "self.type != 'FailureRate' || !has(self.threshold) || (type(self.threshold) == int && self.threshold > 0 && self.threshold <= 100)",
            "FailureRate: threshold is a whole percentage above 0 and at most 100",
        ),
        rule(
            "!(self.type in ['Duration', 'QueueTime', 'JobQueueTime', 'JobDuration', 'LeadTime']) || !has(self.threshold) || type(self.threshold) == string",
            "Duration, QueueTime, JobQueueTime, JobDuration, LeadTime: threshold is a span like 10m or 1h30m",
        ),
        rule(
            "self.type != 'QueuedJobs' || !has(self.threshold) || (type(self.threshold) == int && self.threshold >= 1)",
            "QueuedJobs: threshold is a whole number of queued jobs, at least 1",
        ),
        rule(
            "self.type != 'JobFailureRate' || !has(self.threshold) || (type(self.threshold) == int && self.threshold > 0 && self.threshold <= 100)",
            "JobFailureRate: threshold is a whole percentage above 0 and at most 100",
        ),
        rule(
            "self.type != 'TestFailureRate' || !has(self.threshold) || (type(self.threshold) == int && self.threshold > 0 && self.threshold <= 100)",
            "TestFailureRate: threshold is a whole percentage above 0 and at most 100",
        ),
        rule(
            "self.type != 'TestFailureRate' || has(self.test) != has(self.testMatch)",
            "TestFailureRate: give exactly one of test (one test) and testMatch (a glob on classname::name)",
        ),
        rule(
            "self.type != 'ChangeFailureRate' || !has(self.threshold) || (type(self.threshold) == int && self.threshold > 0 && self.threshold <= 100)",
            "ChangeFailureRate: threshold is a whole percentage above 0 and at most 100",
        ),
        rule(
            "!has(self.stat) || !(self.type in ['Duration', 'QueueTime']) || self.stat in ['avg', 'p95']",
            "Duration, QueueTime: stat is avg or p95",
        ),
        rule(
            "!has(self.stat) || !(self.type in ['JobQueueTime', 'JobDuration', 'LeadTime']) || self.stat in ['p50', 'p95']",
            "JobQueueTime, JobDuration, LeadTime: stat is p50 or p95",
        ),
    ]);
    json!({
        "description": "What makes a group of runs fire. `type` selects the condition; each type \
            takes only its own fields: RunFailed{onlyFirst}, ConsecutiveFailures{threshold}, \
            FailureRate{threshold, window, minRuns}, Duration{stat, threshold, window}, \
            DurationRegression{percent, window, baselineWindow}, QueueTime{stat, threshold, window}, \
            NoSuccessWithin{window}, JobQueueTime{labels, stat, threshold, window}, \
            QueuedJobs{labels, threshold, for}, JobFailureRate{job, threshold, window, minRuns}, \
            JobDuration{job, stat, threshold, window}, FlakyTest{window}, \
            TestFailureRate{test | testMatch, threshold, window, minRuns}, DeploymentFailed{service}, \
            ChangeFailureRate{threshold, window, minDeployments, service}, \
            LeadTime{stat, threshold, window, service}.",
        "type": "object",
        "required": ["type"],
        "properties": {
            "type": {"type": "string", "enum": CONDITION_TYPES},
            "onlyFirst": {
                "type": "boolean",
                "description": "RunFailed: only the first failure after a success (default false).",
            },
            "threshold": {
                "x-kubernetes-int-or-string": true,
                "pattern": SPAN_PATTERN,
                "description": "ConsecutiveFailures: failed runs in a row (at least 1). FailureRate, \
                    JobFailureRate, TestFailureRate: percent of finished runs that failed (1 to 100). \
                    ChangeFailureRate: percent of production deployments that were failed changes \
                    (1 to 100). QueuedJobs: jobs queued (at least 1). Duration, QueueTime, \
                    JobQueueTime, JobDuration, LeadTime: a span such as 10m or 2d.",
            },
            "window": span("The span of runs looked at, e.g. 1h, 1d (1m to 90d). FlakyTest: how \
                long a flake keeps its test firing (default 7d). TestFailureRate: whole UTC days, 1d to \
                90d. ChangeFailureRate, LeadTime: the production deployments that ended within it."),
            "minRuns": {
                "type": "integer",
                "format": "uint32",
                "minimum": 0,
                "description": "FailureRate, JobFailureRate, TestFailureRate: finished runs needed \
                    before the rate counts (default 5).",
            },
            "minDeployments": {
                "type": "integer",
                "format": "uint32",
                "minimum": 0,
                "description": "ChangeFailureRate: production deployments needed in the window \
                    before the rate counts (default 5).",
            },
            "service": {
                "type": "string",
                "minLength": 1,
                "maxLength": 255,
                "description": "DeploymentFailed, ChangeFailureRate, LeadTime: a glob on the \
                    services watched (* any run of characters, ? one; absent: every service). \
                    Each service is its own incident.",
            },
            "stat": {
                "type": "string",
                "enum": ["avg", "p50", "p95"],
                "description": "Duration, QueueTime: avg or p95. JobQueueTime, JobDuration, \
                    LeadTime: p50 or p95. Default p95.",
            },
            "percent": {
                "type": "number",
                "minimum": 0,
                "exclusiveMinimum": true,
                "description": "DurationRegression: how much slower than the baseline, in percent.",
            },
            "baselineWindow": span("DurationRegression: the span before `window` compared against."),
            "labels": {
                "type": "array",
                "minItems": 1,
                "maxItems": 64,
                "items": {"type": "string", "minLength": 1, "maxLength": 255},
                "description": "JobQueueTime, QueuedJobs: the runner label set the jobs ask for, \
                    e.g. [self-hosted, gpu] (order and case do not matter).",
            },
            "for": span("QueuedJobs: how long the backlog must last before it fires (0s to 1d)."),
            "job": {
                "type": "object",
                "required": ["repo", "workflow", "name"],
                "properties": {
                    "repo": {"type": "string", "minLength": 1, "description": "Repository, e.g. acme/api."},
                    "workflow": {"type": "string", "minLength": 1, "description": "Workflow, e.g. ci."},
                    "name": {"type": "string", "minLength": 1, "description": "The job's name, e.g. test."},
                },
                "description": "JobFailureRate, JobDuration: the job, by repository, workflow and name.",
            },
            "test": {
                "type": "object",
                "required": ["repo", "name"],
                "properties": {
                    "repo": {"type": "string", "minLength": 1, "description": "Repository, e.g. acme/api."},
                    "name": {"type": "string", "minLength": 1, "description": "The test case's name, e.g. test_login."},
                    "classname": {"type": "string", "description": "Its class, e.g. tests.test_api (absent: any)."},
                    "suite": {"type": "string", "description": "Its suite (absent: any)."},
                },
                "description": "TestFailureRate: one test, by repository and name (class and suite \
                    when the name is not unique). Exclusive with testMatch.",
            },
            "testMatch": {
                "type": "string",
                "minLength": 1,
                "maxLength": MAX_TEST_MATCH_LEN,
                "description": "TestFailureRate: a glob on classname::name (* any run of characters, \
                    ? one), e.g. tests.test_api::*; each matching test of the repositories `match` \
                    selects is its own incident. Exclusive with test.",
            },
        },
        "x-kubernetes-validations": rules,
    })
}

fn integration_rules() -> Vec<Value> {
    vec![
        rule(
            "self.type != 'Slack' || has(self.slack)",
            "type Slack needs a slack block",
        ),
        rule(
            "self.type != 'Slack' || !has(self.webhook)",
            "type Slack takes no webhook block",
        ),
        rule(
            "self.type != 'Webhook' || has(self.webhook)",
            "type Webhook needs a webhook block",
        ),
        rule(
            "self.type != 'Webhook' || !has(self.slack)",
            "type Webhook takes no slack block",
        ),
    ]
}

/// Secrets in custom resources are references to a key of a Secret in the same namespace: a
/// value in a resource would be readable by anyone who can read the resource.
fn secret_rules() -> Vec<Value> {
    vec![
        rule(
            "!has(self.value)",
            "secrets are given by secretKeyRef (a key of a Secret in this namespace), not by value",
        ),
        rule("has(self.secretKeyRef)", "secretKeyRef is required"),
    ]
}

#[cfg(test)]
mod tests;
