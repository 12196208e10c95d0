//! Keeps `template.yaml` and `events/` honest: the table is `table_definition`, the HTTP API
//! routes are the route table, the schedules are the seed's, every function is a cargo-lambda
//! binary on arm64 with the configuration and the permissions it needs, and the sample events
//! deserialise into what the functions receive. Operations (docs/operations.md): every function
//! has a log group with retention, every asynchronous target a dead-letter queue, and every
//! alarm names a metric that AWS or the service (`accounts::metrics`) really emits.
//!
//! The template is read with serde_yaml_ng and turned into JSON with CloudFormation's short
//! tags (`!Ref`, `!Sub`, `!GetAtt`...) rewritten to their long form, so that assertions
//! compare plain `serde_json` values.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use accounts::bus::EVENT_SOURCE;
use accounts::config::{BusConfig, Config, Deployment, Env, MailConfig, StoreConfig};
use accounts::http::{Group, route_table};
use accounts::store::keys::table_definition as def;
use accounts::triggers::domain_event_from_envelope;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::request::LambdaRequest;
use serde_json::{Map, Value as Json, json};
use serde_yaml_ng::Value as Yaml;

/// The seed's task table plus the daily badge evaluation, the notification digests and the
/// large accounts' follower-count fold: (task, schedule expression, UTC).
const SCHEDULES: [(&str, &str); 11] = [
    ("update_user_counters", "rate(30 minutes)"),
    ("update_user_engagement_scores", "cron(0 2 * * ? *)"),
    ("cleanup_old_user_events", "cron(15 3 * * ? *)"),
    ("analyze_user_security_events", "cron(15 0 * * ? *)"),
    ("update_user_session_analytics", "rate(20 minutes)"),
    ("process_user_event_alerts", "rate(5 minutes)"),
    ("cleanup_expired_sessions", "cron(0 4 * * ? *)"),
    ("generate_user_analytics_report", "cron(0 5 * * ? *)"),
    ("evaluate_user_badges", "cron(30 1 * * ? *)"),
    ("send_notification_digests", "cron(0 6 * * ? *)"),
    ("fold_follower_counts", "rate(1 minute)"),
];

/// The functions that are not an HTTP endpoint group.
const TRIGGERED_BINARIES: [&str; 2] = ["tasks", "badge-events"];

/// The functions that send mail.
/// (`badge-events` mails the codes asked for by address, after the answer: `code_mail.rs`.)
const MAILING_BINARIES: [&str; 4] = ["auth", "users", "tasks", "badge-events"];

/// The actions every function is granted on the table itself, and on nothing else.
const TABLE_ACTIONS: [&str; 7] = [
    "dynamodb:GetItem",
    "dynamodb:BatchGetItem",
    "dynamodb:PutItem",
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:ConditionCheckItem",
    "dynamodb:DescribeTable",
];

/// The sources of the events the badge evaluator listens to, besides this service's own.
const CONTENT_SOURCE: &str = "platform.content";

// ------------------------------------------------------------------ reading the files

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn read(path: &Path) -> String {
    fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

fn read_json(path: &Path) -> Json {
    serde_json::from_str(&read(path))
        .unwrap_or_else(|e| panic!("{} is not valid JSON: {e}", path.display()))
}

/// The template as JSON, short tags in their long form.
fn template() -> Json {
    let path = project_root().join("template.yaml");
    let yaml: Yaml = serde_yaml_ng::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not valid YAML: {e}", path.display()));
    to_json(yaml)
}

fn to_json(value: Yaml) -> Json {
    match value {
        Yaml::Null => Json::Null,
        Yaml::Bool(b) => Json::Bool(b),
        Yaml::Number(n) => {
            if let Some(i) = n.as_i64() {
                json!(i)
            } else if let Some(u) = n.as_u64() {
                json!(u)
            } else {
                json!(n.as_f64())
            }
        }
        Yaml::String(s) => Json::String(s),
        Yaml::Sequence(items) => Json::Array(items.into_iter().map(to_json).collect()),
        Yaml::Mapping(map) => Json::Object(
            map.into_iter()
                .map(|(k, v)| {
                    let key = match to_json(k) {
                        Json::String(s) => s,
                        other => other.to_string(),
                    };
                    (key, to_json(v))
                })
                .collect(),
        ),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!').to_owned();
            let value = to_json(tagged.value);
            match (name.as_str(), value) {
                ("Ref", v) => json!({ "Ref": v }),
                ("Condition", v) => json!({ "Condition": v }),
                // `!GetAtt Resource.Attribute` is `Fn::GetAtt: [Resource, Attribute]`.
                ("GetAtt", Json::String(s)) => match s.split_once('.') {
                    Some((resource, attribute)) => json!({ "Fn::GetAtt": [resource, attribute] }),
                    None => json!({ "Fn::GetAtt": s }),
                },
                (_, v) => {
                    let mut long = Map::new();
                    long.insert(format!("Fn::{name}"), v);
                    Json::Object(long)
                }
            }
        }
    }
}

// ------------------------------------------------------------------ template accessors

fn resources(t: &Json) -> &Map<String, Json> {
    t["Resources"]
        .as_object()
        .expect("the template has a Resources map")
}

/// The logical ids of the resources of one type.
fn resources_of_type<'a>(t: &'a Json, ty: &str) -> Vec<(&'a str, &'a Json)> {
    resources(t)
        .iter()
        .filter(|(_, r)| r["Type"] == ty)
        .map(|(id, r)| (id.as_str(), r))
        .collect()
}

fn only_resource_of_type<'a>(t: &'a Json, ty: &str) -> (&'a str, &'a Json) {
    let found = resources_of_type(t, ty);
    assert_eq!(found.len(), 1, "expected exactly one {ty}, found {found:?}");
    found[0]
}

/// A serverless function: its logical id, the binary it runs and its resource.
struct Function<'a> {
    id: &'a str,
    binary: &'a str,
    resource: &'a Json,
}

impl Function<'_> {
    fn properties(&self) -> &Json {
        &self.resource["Properties"]
    }

    fn events(&self) -> Vec<(&str, &Json)> {
        match self.properties()["Events"].as_object() {
            Some(events) => events.iter().map(|(name, e)| (name.as_str(), e)).collect(),
            None => Vec::new(),
        }
    }

    /// A property of the function, or of `Globals.Function` when the function leaves it out.
    fn effective<'t>(&'t self, t: &'t Json, property: &str) -> &'t Json {
        match self.properties().get(property) {
            Some(value) => value,
            None => &t["Globals"]["Function"][property],
        }
    }
}

fn functions(t: &Json) -> Vec<Function<'_>> {
    resources_of_type(t, "AWS::Serverless::Function")
        .into_iter()
        .map(|(id, resource)| {
            let binary = resource["Metadata"]["BuildProperties"]["Binary"]
                .as_str()
                .unwrap_or_else(|| panic!("{id} has no Metadata.BuildProperties.Binary"));
            Function {
                id,
                binary,
                resource,
            }
        })
        .collect()
}

fn function<'a>(t: &'a Json, binary: &str) -> Function<'a> {
    functions(t)
        .into_iter()
        .find(|f| f.binary == binary)
        .unwrap_or_else(|| panic!("no function builds the binary `{binary}`"))
}

fn reference(logical_id: &str) -> Json {
    json!({ "Ref": logical_id })
}

fn str_of<'a>(value: &'a Json, what: &str) -> &'a str {
    value
        .as_str()
        .unwrap_or_else(|| panic!("{what} is not a string: {value}"))
}

// ------------------------------------------------------------------ (a) the table

#[test]
fn table_is_the_table_definition() {
    let t = template();
    let (id, table) = only_resource_of_type(&t, "AWS::DynamoDB::Table");
    let p = &table["Properties"];

    assert_eq!(p["BillingMode"], def::BILLING_MODE, "{id}.BillingMode");

    let attributes: Vec<(&str, &str)> = p["AttributeDefinitions"]
        .as_array()
        .expect("AttributeDefinitions is a list")
        .iter()
        .map(|a| {
            (
                str_of(&a["AttributeName"], "AttributeName"),
                str_of(&a["AttributeType"], "type"),
            )
        })
        .collect();
    let expected: BTreeSet<(&str, &str)> = def::KEY_ATTRIBUTES.iter().map(|a| (*a, "S")).collect();
    assert_eq!(
        attributes.len(),
        expected.len(),
        "{id} declares an attribute twice: {attributes:?}"
    );
    assert_eq!(
        attributes.into_iter().collect::<BTreeSet<_>>(),
        expected,
        "{id}.AttributeDefinitions"
    );

    let key_schema = |hash: &str, range: &str| {
        json!([
            { "AttributeName": hash, "KeyType": "HASH" },
            { "AttributeName": range, "KeyType": "RANGE" },
        ])
    };
    assert_eq!(
        p["KeySchema"],
        key_schema(def::HASH_KEY, def::RANGE_KEY),
        "{id}.KeySchema"
    );

    let gsis: BTreeMap<&str, &Json> = p["GlobalSecondaryIndexes"]
        .as_array()
        .expect("GlobalSecondaryIndexes is a list")
        .iter()
        .map(|g| (str_of(&g["IndexName"], "IndexName"), g))
        .collect();
    let expected: BTreeMap<&str, Json> = def::GSIS
        .iter()
        .map(|(name, hash, range)| {
            let gsi = json!({
                "IndexName": name,
                "KeySchema": key_schema(hash, range),
                "Projection": { "ProjectionType": "ALL" },
            });
            (*name, gsi)
        })
        .collect();
    assert_eq!(gsis.len(), expected.len(), "{id} GSIs: {gsis:?}");
    for (name, gsi) in &expected {
        assert_eq!(gsis.get(name).copied(), Some(gsi), "{id} GSI {name}");
    }
    assert!(
        p.get("LocalSecondaryIndexes").is_none(),
        "{id} declares local secondary indexes"
    );

    assert_eq!(
        p["TimeToLiveSpecification"],
        json!({ "AttributeName": def::TTL_ATTRIBUTE, "Enabled": true }),
        "{id}.TimeToLiveSpecification"
    );
    assert_eq!(
        p["StreamSpecification"],
        json!({ "StreamViewType": def::STREAM_VIEW_TYPE }),
        "{id}.StreamSpecification"
    );
    assert_eq!(
        p["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"], true,
        "{id}: point-in-time recovery"
    );
    assert_eq!(table["DeletionPolicy"], "Retain", "{id}.DeletionPolicy");
    assert_eq!(
        table["UpdateReplacePolicy"], "Retain",
        "{id}.UpdateReplacePolicy"
    );
}

// ------------------------------------------------------------------ (b) the routes

#[test]
fn http_api_routes_are_the_route_table() {
    let t = template();
    let (api, _) = only_resource_of_type(&t, "AWS::Serverless::HttpApi");

    let mut declared = Vec::new();
    for f in functions(&t) {
        for (name, event) in f.events() {
            if event["Type"] != "HttpApi" {
                continue;
            }
            let p = &event["Properties"];
            let what = format!("{}.Events.{name}", f.id);
            let method = str_of(&p["Method"], &format!("{what}.Method"));
            assert_eq!(
                method,
                method.to_ascii_uppercase(),
                "{what}.Method is not upper-case"
            );
            assert_eq!(
                p["ApiId"],
                reference(api),
                "{what} is not on the HTTP API {api}"
            );
            let path = str_of(&p["Path"], &format!("{what}.Path"));
            declared.push((method.to_owned(), path.to_owned(), f.binary.to_owned()));
        }
    }
    let declared_set: BTreeSet<_> = declared.iter().cloned().collect();
    assert_eq!(
        declared.len(),
        declared_set.len(),
        "a route is declared twice: {declared:?}"
    );

    let table: BTreeSet<_> = route_table()
        .map(|r| {
            (
                r.method.as_str().to_owned(),
                r.path.to_owned(),
                r.group.name().to_owned(),
            )
        })
        .collect();
    let missing: Vec<_> = table.difference(&declared_set).collect();
    let extra: Vec<_> = declared_set.difference(&table).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "template.yaml and route_table() differ\n  routes missing from the template: {missing:?}\n  \
         template routes not in the table: {extra:?}"
    );
}

// ------------------------------------------------------------------ (c) the schedules

#[test]
fn schedules_run_every_task_with_its_input() {
    let t = template();
    let mut declared = Vec::new();
    for f in functions(&t) {
        for (name, event) in f.events() {
            let what = format!("{}.Events.{name}", f.id);
            let p = &event["Properties"];
            let expression = match event["Type"].as_str() {
                Some("Schedule") => &p["Schedule"],
                Some("ScheduleV2") => {
                    let zone = p.get("ScheduleExpressionTimezone");
                    assert!(
                        zone.is_none_or(|z| z == "UTC"),
                        "{what} is not in UTC: {zone:?}"
                    );
                    &p["ScheduleExpression"]
                }
                _ => continue,
            };
            assert_eq!(
                f.binary, "tasks",
                "{what}: only the tasks function runs on a schedule"
            );
            let input: Json = serde_json::from_str(str_of(&p["Input"], &format!("{what}.Input")))
                .unwrap_or_else(|e| panic!("{what}.Input is not JSON: {e}"));
            let task = input
                .as_object()
                .filter(|o| o.len() == 1)
                .and_then(|o| o["task"].as_str())
                .unwrap_or_else(|| panic!("{what}.Input is not {{\"task\": <name>}}: {input}"));
            let expression = str_of(expression, &format!("{what} schedule"));
            declared.push((task.to_owned(), expression.to_owned()));
        }
    }

    let declared_map: BTreeMap<_, _> = declared.iter().cloned().collect();
    assert_eq!(
        declared.len(),
        declared_map.len(),
        "a task is scheduled twice: {declared:?}"
    );
    let expected: BTreeMap<String, String> = SCHEDULES
        .iter()
        .map(|(task, expr)| (task.to_string(), expr.to_string()))
        .collect();
    assert_eq!(declared_map, expected);
}

// ------------------------------------------------------------------ (d) the functions

#[test]
fn every_function_is_a_cargo_lambda_binary_on_al2023_arm64() {
    let t = template();
    let all = functions(&t);

    let binaries: BTreeSet<&str> = all.iter().map(|f| f.binary).collect();
    assert_eq!(
        all.len(),
        binaries.len(),
        "two functions build the same binary"
    );
    let expected: BTreeSet<&str> = Group::ALL
        .iter()
        .map(|g| g.name())
        .chain(TRIGGERED_BINARIES)
        .collect();
    assert_eq!(
        binaries, expected,
        "one function per endpoint group, plus tasks and badge-events"
    );

    for f in &all {
        let id = f.id;
        assert_eq!(
            f.resource["Metadata"]["BuildMethod"], "rust-cargolambda",
            "{id} BuildMethod"
        );
        assert_eq!(
            f.effective(&t, "Runtime"),
            "provided.al2023",
            "{id} Runtime"
        );
        assert_eq!(
            f.effective(&t, "Architectures"),
            &json!(["arm64"]),
            "{id} Architectures"
        );
        assert_eq!(f.effective(&t, "Handler"), "bootstrap", "{id} Handler");
        // Other event types (a REST `Api`, say) would escape the route and schedule checks;
        // the one table stream is checked by `the_table_stream_feeds_the_new_events_to_badge_events`.
        for (name, event) in f.events() {
            let known = [
                "HttpApi",
                "Schedule",
                "ScheduleV2",
                "EventBridgeRule",
                "DynamoDB",
            ];
            assert!(
                known.iter().any(|k| event["Type"] == *k),
                "{id}.Events.{name}: unexpected event type {}",
                event["Type"]
            );
        }
        // SAM runs cargo-lambda in CodeUri: in the function's own package directory cargo
        // resolves that package's features alone; from the workspace root it would link the
        // accounts crate's feature `local` (the embedded engine, aws-config's chains).
        let code_uri = format!("functions/{}", f.binary);
        assert_eq!(
            f.effective(&t, "CodeUri"),
            code_uri.as_str(),
            "{id} CodeUri: the function's package directory"
        );

        // The binary is a workspace package of that name in that directory.
        let manifest = project_root().join(&code_uri).join("Cargo.toml");
        let declares_name = read(&manifest)
            .lines()
            .any(|l| l.trim() == format!("name = \"{}\"", f.binary));
        assert!(
            declares_name,
            "{} does not define the package `{}`",
            manifest.display(),
            f.binary
        );
    }

    let seconds = |binary: &str| function(&t, binary).effective(&t, "Timeout").as_i64();
    assert_eq!(seconds("tasks"), Some(900), "tasks Timeout");
    assert_eq!(seconds("badge-events"), Some(60), "badge-events Timeout");
}

/// The environment of a function with parameters at their default and resources by logical id.
struct TemplateEnv(BTreeMap<String, String>);

impl Env for TemplateEnv {
    fn var(&self, name: &str) -> Option<String> {
        self.0.get(name).cloned()
    }
}

#[test]
fn every_function_gets_a_valid_lambda_configuration() {
    let t = template();
    let (table, _) = only_resource_of_type(&t, "AWS::DynamoDB::Table");
    let (bus, _) = only_resource_of_type(&t, "AWS::Events::EventBus");
    let globals = t["Globals"]["Function"]["Environment"]["Variables"].as_object();

    for f in functions(&t) {
        let own = f.properties()["Environment"]["Variables"].as_object();
        let vars: BTreeMap<&str, &Json> = globals
            .into_iter()
            .chain(own)
            .flat_map(|m| m.iter().map(|(k, v)| (k.as_str(), v)))
            .collect();
        assert_eq!(
            vars.get("TABLE_NAME"),
            Some(&&reference(table)),
            "{} TABLE_NAME",
            f.id
        );
        assert_eq!(
            vars.get("EVENT_BUS_NAME"),
            Some(&&reference(bus)),
            "{} EVENT_BUS_NAME",
            f.id
        );
        assert!(vars.contains_key("RUST_LOG"), "{} has no RUST_LOG", f.id);

        let resolved = vars
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    resolve(&t, value, &format!("{} {name}", f.id)),
                )
            })
            .collect();
        let config = Config::from(&TemplateEnv(resolved), Deployment::Lambda)
            .unwrap_or_else(|e| panic!("{}: {e}", f.id));
        assert!(
            matches!(config.store, StoreConfig::DynamoDb { .. }),
            "{} store",
            f.id
        );
        assert!(
            matches!(
                &config.mail,
                MailConfig::Ses { configuration_set: Some(set), .. } if set == "MailConfigurationSet"
            ),
            "{} mail: SES with the configuration set whose feedback the service reads",
            f.id
        );
        assert!(
            matches!(config.bus, BusConfig::EventBridge { .. }),
            "{} bus",
            f.id
        );
    }
}

/// A sample value of an environment variable: strings as they are, a `Ref` to a parameter as
/// its default (or a sample sender for `MailFrom`, a sample key set for `JwtSigningKeys`), a
/// `Ref` to a resource as its logical id.
fn resolve(t: &Json, value: &Json, what: &str) -> String {
    if let Some(s) = value.as_str() {
        return s.to_owned();
    }
    if let Some(n) = value.as_i64() {
        return n.to_string();
    }
    if let Some(sub) = value.get("Fn::Sub").and_then(Json::as_str) {
        return substitute(t, sub, what);
    }
    let name = str_of(
        &value["Ref"],
        &format!("{what} (only strings and Ref are expected)"),
    );
    match t["Parameters"].get(name) {
        Some(parameter) => match parameter.get("Default") {
            Some(Json::Number(n)) => n.to_string(),
            Some(default) => str_of(default, &format!("{name}.Default")).to_owned(),
            None if name == "MailFrom" => "no-reply@example.com".to_owned(),
            None if name == "JwtSigningKeys" => {
                accounts::auth::jwt::KeySet::generate_document("sample")
            }
            None => panic!("{what}: no sample value for the parameter {name}"),
        },
        None if resources(t).contains_key(name) => name.to_owned(),
        None => panic!("{what} refers to {name}, which the template does not declare"),
    }
}

/// `!Sub` text with each `${Parameter}` as its default, `${Resource}` as its logical id.
fn substitute(t: &Json, text: &str, what: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .unwrap_or_else(|| panic!("{what}: unclosed ${{ in {text}"));
        let name = &rest[start + 2..start + end];
        out.push_str(&resolve(t, &reference(name), what));
        rest = &rest[start + end + 1..];
    }
    out.push_str(rest);
    out
}

// ------------------------------------------------------------------ permissions

/// The IAM statements that apply to a function: its own `Policies` (inline statements and
/// managed policies of this template), plus `AWS::IAM::Policy` resources attached to the role
/// SAM generates for it.
fn statements<'a>(t: &'a Json, f: &Function<'a>) -> Vec<&'a Json> {
    fn document_statements(document: &Json) -> Vec<&Json> {
        match &document["Statement"] {
            Json::Array(s) => s.iter().collect(),
            Json::Null => Vec::new(),
            single => vec![single],
        }
    }

    let mut found = Vec::new();
    let policies = match &f.resource["Properties"]["Policies"] {
        Json::Array(p) => p.iter().collect(),
        Json::Null => Vec::new(),
        single => vec![single],
    };
    for policy in policies {
        if let Some(id) = policy["Ref"].as_str() {
            let managed = &resources(t)[id];
            assert_eq!(managed["Type"], "AWS::IAM::ManagedPolicy", "{}: {id}", f.id);
            found.extend(document_statements(
                &managed["Properties"]["PolicyDocument"],
            ));
        } else if policy.get("Statement").is_some() {
            found.extend(document_statements(policy));
        } else {
            panic!(
                "{}: unexpected policy (AWS-managed or a SAM policy template?): {policy}",
                f.id
            );
        }
    }

    let role = reference(&format!("{}Role", f.id));
    for (_, policy) in resources_of_type(t, "AWS::IAM::Policy") {
        let roles = policy["Properties"]["Roles"].as_array();
        if roles.is_some_and(|r| r.contains(&role)) {
            found.extend(document_statements(&policy["Properties"]["PolicyDocument"]));
        }
    }
    found
}

fn as_list(value: &Json) -> Vec<&Json> {
    match value {
        Json::Array(items) => items.iter().collect(),
        single => vec![single],
    }
}

/// The actions granted to a function, each with the resources it is granted on.
fn grants<'a>(t: &'a Json, f: &Function<'a>) -> BTreeMap<String, Vec<&'a Json>> {
    let mut grants: BTreeMap<String, Vec<&Json>> = BTreeMap::new();
    for statement in statements(t, f) {
        assert_eq!(statement["Effect"], "Allow", "{}: {statement}", f.id);
        for action in as_list(&statement["Action"]) {
            let action = str_of(action, "Action");
            assert!(!action.contains('*'), "{}: wildcard action {action}", f.id);
            grants
                .entry(action.to_owned())
                .or_default()
                .extend(as_list(&statement["Resource"]));
        }
    }
    grants
}

#[test]
fn every_function_has_least_privilege() {
    let t = template();
    let (table, _) = only_resource_of_type(&t, "AWS::DynamoDB::Table");
    let (bus, _) = only_resource_of_type(&t, "AWS::Events::EventBus");
    let table_arn = json!({ "Fn::GetAtt": [table, "Arn"] });
    let indexes_arn = json!({ "Fn::Sub": format!("${{{table}.Arn}}/index/*") });
    let bus_arn = json!({ "Fn::GetAtt": [bus, "Arn"] });

    for f in functions(&t) {
        let id = f.id;
        let grants = grants(&t, &f);
        let on = |action: &str| grants.get(action).cloned().unwrap_or_default();

        for action in TABLE_ACTIONS {
            assert_eq!(on(action), vec![&table_arn], "{id}: {action}");
        }
        assert_eq!(
            on("dynamodb:Query"),
            vec![&table_arn, &indexes_arn],
            "{id}: dynamodb:Query"
        );
        assert_eq!(
            on("events:PutEvents"),
            vec![&bus_arn],
            "{id}: events:PutEvents"
        );

        let is_tasks = f.binary == "tasks";
        let scan = if is_tasks { vec![&table_arn] } else { vec![] };
        assert_eq!(on("dynamodb:Scan"), scan, "{id}: dynamodb:Scan");
        let invoke = json!({ "Fn::GetAtt": [id, "Arn"] });
        let invoke = if is_tasks { vec![&invoke] } else { vec![] };
        assert_eq!(
            on("lambda:InvokeFunction"),
            invoke,
            "{id}: lambda:InvokeFunction"
        );
        // Failed asynchronous invocations go to the function's dead-letter queue.
        let dead_letters = match dead_letter_queue(&t, &f) {
            Some(queue) => vec![json!({ "Fn::GetAtt": [queue, "Arn"] })],
            None => vec![],
        };
        assert_eq!(
            on("sqs:SendMessage"),
            dead_letters.iter().collect::<Vec<_>>(),
            "{id}: sqs:SendMessage"
        );
        // The environment's secrets are encrypted with the stack's key; each function may
        // decrypt with that key and no other.
        let (secrets_key, _) = only_resource_of_type(&t, "AWS::KMS::Key");
        let secrets_key = json!({ "Fn::GetAtt": [secrets_key, "Arn"] });
        assert_eq!(on("kms:Decrypt"), vec![&secrets_key], "{id}: kms:Decrypt");
        let key_arn = match &f.resource["Properties"]["KmsKeyArn"] {
            Json::Null => &t["Globals"]["Function"]["KmsKeyArn"],
            own => own,
        };
        assert_eq!(key_arn, &secrets_key, "{id}: KmsKeyArn");
        let mails = MAILING_BINARIES.contains(&f.binary);
        assert_eq!(
            grants.contains_key("ses:SendEmail"),
            mails,
            "{id}: ses:SendEmail"
        );

        let known: BTreeSet<&str> = TABLE_ACTIONS
            .into_iter()
            .chain([
                "dynamodb:Query",
                "dynamodb:Scan",
                "events:PutEvents",
                "kms:Decrypt",
                "lambda:InvokeFunction",
                "ses:SendEmail",
                "sqs:SendMessage",
            ])
            .collect();
        let unexpected: Vec<_> = grants
            .keys()
            .filter(|a| !known.contains(a.as_str()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{id}: unexpected actions {unexpected:?}"
        );
    }
}

// ------------------------------------------------------------------ domain events

#[test]
fn badge_evaluator_receives_domain_events_from_the_bus() {
    let t = template();
    let (bus, _) = only_resource_of_type(&t, "AWS::Events::EventBus");
    let f = function(&t, "badge-events");
    // The rules on the service's bus (SES feedback comes on the default bus: mail_feedback_...).
    let rules: Vec<_> = f
        .events()
        .into_iter()
        .filter(|(_, e)| {
            e["Type"] == "EventBridgeRule" && e["Properties"].get("EventBusName").is_some()
        })
        .collect();
    assert_eq!(rules.len(), 1, "{}: one EventBridge rule", f.id);
    let p = &rules[0].1["Properties"];
    assert_eq!(
        p["EventBusName"],
        reference(bus),
        "{}: the rule is on the service's bus",
        f.id
    );
    let sources: BTreeSet<&str> = as_list(&p["Pattern"]["source"])
        .into_iter()
        .map(|s| str_of(s, "source"))
        .collect();
    assert_eq!(
        sources,
        BTreeSet::from([EVENT_SOURCE, CONTENT_SOURCE]),
        "{}: sources",
        f.id
    );

    // The sample event is one the rule matches and the handler reads.
    let sample = read_json(&project_root().join("events/domain-event.json"));
    let event = domain_event_from_envelope(sample).expect("events/domain-event.json");
    assert!(
        sources.contains(event.source.as_str()),
        "sample source {}",
        event.source
    );
    assert_eq!(event.source, EVENT_SOURCE);
    assert_eq!(event.detail_type, "UserFollowed");
    assert!(event.detail.is_object(), "sample detail is an object");
}

// ------------------------------------------------------------------ sample events

#[test]
fn sample_http_events_reach_their_group() {
    let dir = project_root().join("events");
    let mut groups = BTreeSet::new();
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.expect("events/ entry").path();
        let file = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let Some(group) = file.strip_suffix("-health.json") else {
            continue;
        };
        let group = Group::from_name(group).unwrap_or_else(|| panic!("{file}: no group {group}"));
        groups.insert(group.name());
        let text = read(&path);

        let request: ApiGatewayV2httpRequest =
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(
            request.version.as_deref(),
            Some("2.0"),
            "{file}: payload format 2.0"
        );
        assert_eq!(
            request.request_context.stage.as_deref(),
            Some("$default"),
            "{file}: stage"
        );
        assert!(
            request.request_context.http.source_ip.is_some(),
            "{file}: sourceIp"
        );
        assert!(!request.is_base64_encoded, "{file}: isBase64Encoded");

        // What the function's handler sees, through lambda_http's own conversion.
        let lambda: LambdaRequest = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{file}: lambda_http does not accept it: {e}"));
        let http: lambda_http::Request = lambda.into();
        let route = route_table()
            .find(|r| r.method == http.method() && r.path == http.uri().path())
            .unwrap_or_else(|| panic!("{file}: {} {} is no route", http.method(), http.uri()));
        assert_eq!(
            route.group, group,
            "{file}: {} is served by {:?}",
            route.path, route.group
        );
        assert!(
            route.path.starts_with("/api/health/"),
            "{file}: not a health route"
        );
    }
    let all: BTreeSet<&str> = Group::ALL.iter().map(|g| g.name()).collect();
    assert_eq!(groups, all, "one events/<group>-health.json per group");
}

#[test]
fn sample_scheduled_task_is_a_schedule_input() {
    let sample = read_json(&project_root().join("events/scheduled-task.json"));
    let t = template();
    let f = function(&t, "tasks");
    let inputs: Vec<Json> = f
        .events()
        .into_iter()
        .filter_map(|(_, e)| e["Properties"]["Input"].as_str())
        .map(|input| serde_json::from_str(input).expect("schedule Input is JSON"))
        .collect();
    assert!(
        inputs.contains(&sample),
        "events/scheduled-task.json {sample} is no schedule's Input"
    );
}

// ------------------------------------------------------------------ operations

/// The SQS queue (logical id) a function's failed asynchronous invocations go to, if any.
fn dead_letter_queue<'a>(t: &'a Json, f: &Function<'_>) -> Option<&'a str> {
    let configs: Vec<_> = resources_of_type(t, "AWS::Lambda::EventInvokeConfig")
        .into_iter()
        .filter(|(_, c)| c["Properties"]["FunctionName"] == reference(f.id))
        .collect();
    assert!(configs.len() <= 1, "{}: two invoke configs", f.id);
    let (id, config) = configs.first()?;
    let destination = &config["Properties"]["DestinationConfig"]["OnFailure"]["Destination"];
    let queue = sqs_queue(t, destination, id);
    Some(queue)
}

/// The logical id of the SQS queue whose ARN `value` is (`!GetAtt Queue.Arn`).
fn sqs_queue<'a>(t: &'a Json, value: &Json, what: &str) -> &'a str {
    let (queue, resource) = resources(t)
        .iter()
        .find(|(id, _)| *value == json!({ "Fn::GetAtt": [id, "Arn"] }))
        .unwrap_or_else(|| panic!("{what}: {value} is not the ARN of a queue of the template"));
    assert_eq!(resource["Type"], "AWS::SQS::Queue", "{what}: {queue}");
    queue
}

#[test]
fn every_function_has_a_log_group_with_retention() {
    let t = template();
    let retention = reference("LogRetentionDays");
    assert_eq!(
        t["Parameters"]["LogRetentionDays"]["Default"], 30,
        "LogRetentionDays defaults to 30 days"
    );
    let groups = resources_of_type(&t, "AWS::Logs::LogGroup");
    for f in functions(&t) {
        let name = json!({ "Fn::Sub": format!("/aws/lambda/${{{}}}", f.id) });
        let found: Vec<_> = groups
            .iter()
            .filter(|(_, g)| g["Properties"]["LogGroupName"] == name)
            .collect();
        assert_eq!(found.len(), 1, "{}: one log group named {name}", f.id);
        let (id, group) = found[0];
        assert_eq!(
            group["Properties"]["RetentionInDays"], retention,
            "{id}: retention"
        );
    }
}

#[test]
fn every_asynchronous_target_has_a_dead_letter_queue() {
    let t = template();
    let mut asynchronous = 0;
    for f in functions(&t) {
        let mut targets = 0;
        for (name, event) in f.events() {
            let what = format!("{}.Events.{name}", f.id);
            if !["Schedule", "ScheduleV2", "EventBridgeRule"]
                .contains(&str_of(&event["Type"], &what))
            {
                continue;
            }
            targets += 1;
            let p = &event["Properties"];
            sqs_queue(&t, &p["DeadLetterConfig"]["Arn"], &what);
            let retries = p["RetryPolicy"]["MaximumRetryAttempts"].as_i64();
            assert!(
                retries.is_some_and(|n| n > 0),
                "{what}: a RetryPolicy with retries"
            );
        }
        if targets > 0 {
            asynchronous += 1;
            // EventBridge invokes asynchronously: what the function fails on lands here.
            assert!(
                dead_letter_queue(&t, &f).is_some(),
                "{}: no on-failure destination",
                f.id
            );
        }
    }
    assert_eq!(asynchronous, TRIGGERED_BINARIES.len());
    let streams: Vec<_> = functions(&t)
        .iter()
        .flat_map(|f| f.events())
        .filter(|(_, e)| e["Type"] == "DynamoDB")
        .map(|(name, e)| {
            (
                name.to_owned(),
                e["Properties"]["DestinationConfig"].clone(),
            )
        })
        .collect();
    for (name, destination) in streams {
        assert!(
            destination["OnFailure"]["Destination"].is_object(),
            "stream consumer {name}: no on-failure destination"
        );
    }

    // Events may send to the queues.
    for queue in ["TasksDeadLetterQueue", "BadgeEventsDeadLetterQueue"] {
        let allowed = resources_of_type(&t, "AWS::SQS::QueuePolicy")
            .into_iter()
            .any(|(_, p)| {
                as_list(&p["Properties"]["Queues"]).contains(&&reference(queue))
                    && p["Properties"]["PolicyDocument"]["Statement"][0]["Principal"]["Service"]
                        == "events.amazonaws.com"
            });
        assert!(allowed, "{queue}: EventBridge may not send to it");
    }
}

/// The metrics of AWS's namespaces the alarms and the dashboard may name.
const AWS_METRICS: [(&str, &[&str]); 5] = [
    (
        "AWS/ApiGateway",
        &["Count", "4xx", "5xx", "Latency", "IntegrationLatency"],
    ),
    (
        "AWS/Lambda",
        &[
            "Errors",
            "Throttles",
            "Invocations",
            "Duration",
            "IteratorAge",
        ],
    ),
    (
        "AWS/DynamoDB",
        &[
            "ReadThrottleEvents",
            "WriteThrottleEvents",
            "ThrottledRequests",
            "SystemErrors",
            "ConsumedReadCapacityUnits",
            "ConsumedWriteCapacityUnits",
        ],
    ),
    ("AWS/SQS", &["ApproximateNumberOfMessagesVisible"]),
    (
        "AWS/SES",
        &["Reputation.BounceRate", "Reputation.ComplaintRate"],
    ),
];

#[test]
fn every_alarm_names_a_metric_that_is_emitted() {
    let t = template();
    let service_namespace = json!({ "Fn::Sub": "accounts/${Stage}" });
    let globals = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(
        globals["METRICS_NAMESPACE"], service_namespace,
        "the functions write their metrics in the namespace the alarms read"
    );
    let alarms = resources_of_type(&t, "AWS::CloudWatch::Alarm");
    assert!(!alarms.is_empty());
    let mut named = BTreeSet::new();
    for (id, alarm) in &alarms {
        let p = &alarm["Properties"];
        assert!(
            p["AlarmActions"].is_object() && p["OKActions"].is_object(),
            "{id}: notifies the alarm topic"
        );
        let mut metrics = Vec::new();
        if p.get("MetricName").is_some() {
            metrics.push((&p["Namespace"], &p["MetricName"]));
        }
        for m in p["Metrics"].as_array().into_iter().flatten() {
            let metric = &m["MetricStat"]["Metric"];
            if metric.is_object() {
                metrics.push((&metric["Namespace"], &metric["MetricName"]));
            } else {
                assert!(m["Expression"].is_string(), "{id}: {m}");
            }
        }
        assert!(!metrics.is_empty(), "{id}: no metric");
        for (namespace, name) in metrics {
            let name = str_of(name, &format!("{id}.MetricName"));
            named.insert(name);
            if *namespace == service_namespace {
                assert!(
                    accounts::metrics::NAMES.contains(&name),
                    "{id}: the service emits no metric {name}"
                );
                continue;
            }
            let namespace = str_of(namespace, &format!("{id}.Namespace"));
            let known = AWS_METRICS
                .iter()
                .find(|(ns, _)| *ns == namespace)
                .unwrap_or_else(|| panic!("{id}: unexpected namespace {namespace}"));
            assert!(
                known.1.contains(&name),
                "{id}: {namespace} has no metric {name}"
            );
        }
    }
    // What the issue asks to be alarmed on.
    for name in [
        "5xx",
        "Errors",
        "Throttles",
        "ReadThrottleEvents",
        "SystemErrors",
        "ApproximateNumberOfMessagesVisible",
        "TaskCompleted",
        "LoginFailures",
        "RefreshReuse",
        "Reputation.BounceRate",
        "Reputation.ComplaintRate",
    ] {
        assert!(named.contains(name), "no alarm on {name}");
    }
    // Errors and throttles per function; an overdue alarm per scheduled task.
    for f in functions(&t) {
        for metric in ["Errors", "Throttles"] {
            let found = alarms.iter().any(|(_, a)| {
                a["Properties"]["MetricName"] == metric
                    && a["Properties"]["Dimensions"][0]["Value"] == reference(f.id)
            });
            assert!(found, "{}: no {metric} alarm", f.id);
        }
    }
    for (task, _) in SCHEDULES {
        let found = alarms.iter().any(|(_, a)| {
            a["Properties"]["MetricName"] == "TaskCompleted"
                && a["Properties"]["Dimensions"][0]["Value"] == task
                && a["Properties"]["TreatMissingData"] == "breaching"
        });
        assert!(found, "{task}: no overdue alarm");
    }
}

#[test]
fn limits_are_declared() {
    let t = template();
    let (_, api) = only_resource_of_type(&t, "AWS::Serverless::HttpApi");
    let route = &api["Properties"]["DefaultRouteSettings"];
    assert_eq!(
        route["ThrottlingRateLimit"],
        reference("ApiThrottlingRateLimit")
    );
    assert_eq!(
        route["ThrottlingBurstLimit"],
        reference("ApiThrottlingBurstLimit")
    );
    let tasks = function(&t, "tasks");
    assert_eq!(
        tasks.properties()["ReservedConcurrentExecutions"],
        reference("TasksReservedConcurrency")
    );
    // The body limit the functions enforce is the parameter, whose default is the service's.
    let globals = &t["Globals"]["Function"]["Environment"]["Variables"];
    assert_eq!(globals["MAX_BODY_BYTES"], reference("MaxBodyBytes"));
    // (64 KiB: config.rs's default when MAX_BODY_BYTES is unset.)
    let default = t["Parameters"]["MaxBodyBytes"]["Default"].as_i64();
    assert_eq!(default, Some(64 * 1024), "MaxBodyBytes default");
    // Under Lambda's 6 MB synchronous payload, base64 included.
    let max = t["Parameters"]["MaxBodyBytes"]["MaxValue"].as_i64();
    assert!(
        max.is_some_and(|m| m * 4 / 3 < 6_000_000),
        "MaxBodyBytes.MaxValue"
    );
}

/// The table's stream reaches one consumer, the badge-events function, with the new events
/// only (`store::stream::STREAMED_PREFIX`), from the start of the stream, a failed batch
/// retried whole (never split: `activity::day_counts` knows a batch by its first record).
#[test]
fn the_table_stream_feeds_the_new_events_to_badge_events() {
    let t = template();
    let streams: Vec<_> = functions(&t)
        .into_iter()
        .flat_map(|f| {
            f.events()
                .into_iter()
                .filter(|(_, e)| e["Type"] == "DynamoDB")
                .map(move |(_, e)| (f.binary, e.clone()))
                .collect::<Vec<_>>()
        })
        .collect();
    assert_eq!(streams.len(), 1, "one stream consumer: {streams:?}");
    let (binary, event) = &streams[0];
    assert_eq!(*binary, "badge-events");
    let p = &event["Properties"];
    assert_eq!(p["Stream"], json!({"Fn::GetAtt": ["Table", "StreamArn"]}));
    assert_eq!(p["StartingPosition"], "TRIM_HORIZON");
    assert_eq!(p["BisectBatchOnFunctionError"], false);
    let pattern: Json = serde_json::from_str(
        p["FilterCriteria"]["Filters"][0]["Pattern"]
            .as_str()
            .expect("a filter pattern"),
    )
    .expect("the pattern is JSON");
    assert_eq!(
        pattern,
        json!({
            "eventName": ["INSERT"],
            "dynamodb": {"Keys": {"SK": {"S": [
                {"prefix": accounts::store::stream::STREAMED_PREFIX}
            ]}}}
        })
    );
}

/// `events/table-stream.json` is what the stream's event source mapping delivers, and the
/// badge-events handler reads its event.
#[test]
fn sample_table_stream_event_is_one_new_event() {
    let sample = read_json(&project_root().join("events/table-stream.json"));
    let records = accounts::store::stream::records_of_lambda_event(&sample)
        .expect("a stream event")
        .expect("readable records");
    assert_eq!(records.len(), 1);
    accounts::activity::events::EventRecord::from_item(&records[0].item)
        .expect("the new image is an event");
}
