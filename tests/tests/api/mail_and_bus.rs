//! The mail and event-bus engines: the file outbox and the in-process bus on their own, SES v2
//! and EventBridge against moto (`AWS_ENDPOINT_URL`); and the SDK configuration a Lambda function
//! builds from its environment alone.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accounts::bus::eventbridge::EventBridgeBus;
use accounts::bus::in_process::InProcessBus;
use accounts::bus::{BusError, DomainEvent, EVENT_SOURCE, EventBus, Subscriber};
use accounts::clock::SystemClock;
use accounts::mail::outbox::{OutboxMailer, OutboxMessage, read_outbox};
use accounts::mail::ses::SesMailer;
use accounts::mail::{Email, MailError, Mailer};
use accounts::store::dynamo::DynamoTable;
use async_trait::async_trait;
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use ulid::Ulid;

fn email(to: &str, subject: &str) -> Email {
    Email {
        to: to.to_owned(),
        subject: subject.to_owned(),
        text: format!("Your code is 123456 ({subject})"),
        html: format!("<p>Your code is <b>123456</b> ({subject})</p>"),
    }
}

fn unique() -> String {
    Ulid::new().to_string().to_lowercase()
}

// ---- outbox ----

#[tokio::test]
async fn outbox_writes_a_readable_message_with_every_field() {
    let root = tempfile::tempdir().unwrap();
    // Two levels that do not exist yet: the mailer creates them.
    let dir = root.path().join("data").join("outbox");
    let mailer = OutboxMailer::new(dir.clone(), "no-reply@example.com".into()).unwrap();
    assert_eq!(mailer.engine(), "outbox");

    let before = Utc::now();
    let sent = email("ada@example.org", "Verify your address ✓");
    mailer.send(&sent).await.unwrap();
    let after = Utc::now();

    let messages = read_outbox(&dir).unwrap();
    assert_eq!(messages.len(), 1);
    let message = &messages[0];
    assert_eq!(message.to, "ada@example.org");
    assert_eq!(message.from, "no-reply@example.com");
    assert_eq!(message.subject, "Verify your address ✓");
    assert_eq!(message.text, sent.text);
    assert_eq!(message.html, sent.html);
    // Stored at millisecond precision.
    let earliest = before - chrono::Duration::milliseconds(1);
    assert!(
        message.sent_at >= earliest && message.sent_at <= after,
        "{}",
        message.sent_at
    );

    // The file itself: one `<ulid>.json` with the documented fields, no temporary left over.
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    let stem = names[0].strip_suffix(".json").expect("a .json file");
    Ulid::from_string(stem).expect("the file name is a ULID");
    let raw: Value = serde_json::from_slice(&std::fs::read(dir.join(&names[0])).unwrap()).unwrap();
    for field in ["to", "from", "subject", "text", "html", "sent_at"] {
        assert!(raw[field].is_string(), "field {field} missing in {raw}");
    }
    let sent_at = raw["sent_at"].as_str().unwrap();
    assert!(sent_at.ends_with('Z'), "not UTC: {sent_at}");
    DateTime::parse_from_rfc3339(sent_at).expect("RFC 3339");
}

#[tokio::test]
async fn outbox_returns_messages_oldest_first() {
    let dir = tempfile::tempdir().unwrap();
    let mailer = OutboxMailer::new(dir.path().to_owned(), "from@example.com".into()).unwrap();
    mailer
        .send(&email("first@example.org", "first"))
        .await
        .unwrap();
    mailer
        .send(&email("second@example.org", "second"))
        .await
        .unwrap();
    let subjects: Vec<String> = read_outbox(dir.path())
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    assert_eq!(subjects, ["first", "second"]);

    // Many in a burst, most within the same millisecond: still in sending order.
    for n in 0..40 {
        mailer
            .send(&email("burst@example.org", &format!("burst {n:02}")))
            .await
            .unwrap();
    }
    let messages: Vec<OutboxMessage> = read_outbox(dir.path()).unwrap();
    let expected: Vec<String> = ["first".to_owned(), "second".to_owned()]
        .into_iter()
        .chain((0..40).map(|n| format!("burst {n:02}")))
        .collect();
    let subjects: Vec<String> = messages.into_iter().map(|m| m.subject).collect();
    assert_eq!(subjects, expected);
}

#[tokio::test]
async fn outbox_concurrent_sends_each_get_their_own_file() {
    let dir = tempfile::tempdir().unwrap();
    let mailer =
        Arc::new(OutboxMailer::new(dir.path().to_owned(), "f@example.com".into()).unwrap());
    let sends = (0..16).map(|n| {
        let mailer = mailer.clone();
        tokio::spawn(async move { mailer.send(&email("c@example.org", &format!("c{n}"))).await })
    });
    for result in futures::future::join_all(sends).await {
        result.unwrap().unwrap();
    }
    let mut subjects: Vec<String> = read_outbox(dir.path())
        .unwrap()
        .into_iter()
        .map(|m| m.subject)
        .collect();
    subjects.sort();
    let mut expected: Vec<String> = (0..16).map(|n| format!("c{n}")).collect();
    expected.sort();
    assert_eq!(subjects, expected);
}

#[test]
fn read_outbox_skips_temporary_files_and_treats_a_missing_dir_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    assert!(
        read_outbox(&dir.path().join("never-created"))
            .unwrap()
            .is_empty()
    );
    // What a writer leaves while it is still writing: not a message yet.
    std::fs::write(
        dir.path().join(".01J0000000000000000000000.tmp"),
        b"{\"to\":",
    )
    .unwrap();
    assert!(read_outbox(dir.path()).unwrap().is_empty());
    // A damaged message is an error naming the file, not a silent skip.
    std::fs::write(
        dir.path().join("01J0000000000000000000000.json"),
        b"{\"to\":",
    )
    .unwrap();
    let err = read_outbox(dir.path()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidData);
    assert!(
        err.to_string().contains("01J0000000000000000000000.json"),
        "{err}"
    );
}

// ---- in-process bus ----

/// Records `(name, detail_type)` for every event it sees, after an await point, so the test
/// also shows that `publish` waits for the subscriber to finish.
struct Recorder {
    name: &'static str,
    seen: Arc<Mutex<Vec<(&'static str, String)>>>,
}

#[async_trait]
impl Subscriber for Recorder {
    async fn handle(&self, event: &DomainEvent) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        self.seen
            .lock()
            .unwrap()
            .push((self.name, event.detail_type.clone()));
    }
}

struct Panicker;

#[async_trait]
impl Subscriber for Panicker {
    async fn handle(&self, event: &DomainEvent) {
        tokio::task::yield_now().await;
        panic!("subscriber failed on {}", event.detail_type);
    }
}

fn event(detail_type: &str, n: u32) -> DomainEvent {
    DomainEvent::new(detail_type, json!({ "n": n }), Utc::now())
}

#[tokio::test]
async fn in_process_bus_delivers_to_every_subscriber_in_order() {
    let bus = InProcessBus::new();
    assert_eq!(bus.engine(), "in-process");
    bus.publish(&[event("Nobody", 0)])
        .await
        .expect("no subscribers is fine");

    let seen = Arc::new(Mutex::new(Vec::new()));
    bus.subscribe(Arc::new(Recorder {
        name: "first",
        seen: seen.clone(),
    }));
    bus.subscribe(Arc::new(Recorder {
        name: "second",
        seen: seen.clone(),
    }));
    bus.publish(&[event("UserFollowed", 1), event("BadgeAwarded", 2)])
        .await
        .unwrap();

    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("first", "UserFollowed".to_owned()),
            ("second", "UserFollowed".to_owned()),
            ("first", "BadgeAwarded".to_owned()),
            ("second", "BadgeAwarded".to_owned()),
        ]
    );
}

#[tokio::test]
async fn in_process_bus_survives_a_panicking_subscriber() {
    let bus = InProcessBus::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    bus.subscribe(Arc::new(Recorder {
        name: "before",
        seen: seen.clone(),
    }));
    bus.subscribe(Arc::new(Panicker));
    bus.subscribe(Arc::new(Recorder {
        name: "after",
        seen: seen.clone(),
    }));

    bus.publish(&[event("One", 1)])
        .await
        .expect("a subscriber's panic is not the publisher's error");
    // The bus still works after the panic.
    bus.publish(&[event("Two", 2)]).await.unwrap();

    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("before", "One".to_owned()),
            ("after", "One".to_owned()),
            ("before", "Two".to_owned()),
            ("after", "Two".to_owned()),
        ]
    );
}

// ---- moto ----

fn moto_endpoint() -> String {
    std::env::var("AWS_ENDPOINT_URL").unwrap_or_else(|_| {
        panic!(
            "AWS_ENDPOINT_URL is not set: these tests need moto, e.g. \
             `moto_server -H 127.0.0.1 -p 5000` and AWS_ENDPOINT_URL=http://127.0.0.1:5000"
        )
    })
}

async fn sdk() -> aws_config::SdkConfig {
    moto_endpoint();
    api_tests::moto::sdk_config().await
}

/// A moto server of this test's own, started from the repository's venv when it has one, and
/// stopped when dropped. moto's state dump (`/moto-api/data.json`) holds everything the suite
/// created so far: late in a full run on a busy machine the shared server took more than two
/// minutes to write it (seen in a CI run), where a private one holds only this test's mail.
struct PrivateMoto {
    child: std::process::Child,
    endpoint: String,
}

impl Drop for PrivateMoto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn private_moto() -> Option<PrivateMoto> {
    let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    if !server.exists() {
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .ok()?
        .port();
    let child = std::process::Command::new(server)
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let moto = PrivateMoto {
        child,
        endpoint: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "a private moto did not start"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(moto)
}

/// moto's whole state (`GET /moto-api/data.json`), through a plain HTTP/1.0 request.
async fn moto_data(endpoint: &str) -> Value {
    let authority = endpoint
        .strip_prefix("http://")
        .unwrap_or_else(|| panic!("AWS_ENDPOINT_URL must be http://host:port, not {endpoint}"))
        .trim_end_matches('/')
        .to_owned();
    let response = tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(&authority).expect("connect to moto");
        // moto answers with its whole state, every table the suite created so far included:
        // late in a full run on a busy machine that takes well over ten seconds.
        stream
            .set_read_timeout(Some(Duration::from_secs(120)))
            .unwrap();
        let request =
            format!("GET /moto-api/data.json HTTP/1.0\r\nHost: {authority}\r\nAccept: */*\r\n\r\n");
        stream.write_all(request.as_bytes()).unwrap();
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .expect("read moto's answer");
        response
    })
    .await
    .unwrap();
    let split = response
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("an HTTP response");
    let head = String::from_utf8_lossy(&response[..split]);
    assert!(
        head.starts_with("HTTP/1.") && head.contains(" 200 "),
        "moto answered: {head}"
    );
    serde_json::from_slice(&response[split + 4..]).expect("moto's data.json is JSON")
}

/// A Lambda function builds its SDK configuration from the variables Lambda sets (no
/// aws-config chain in its build); the tests' own configuration comes through aws-config. A
/// table created through the first is found through the second: same region, credentials
/// accepted, endpoint reached with the service's HTTPS client, timeouts and sleep.
#[tokio::test]
async fn a_function_reaches_aws_with_the_lambda_environment_alone() {
    let endpoint = moto_endpoint();
    let lambda_env = [
        ("AWS_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "testing"),
        ("AWS_SECRET_ACCESS_KEY", "testing"),
        ("AWS_SESSION_TOKEN", "session-token-of-the-execution-role"),
        ("AWS_ENDPOINT_URL", endpoint.as_str()),
    ];
    let function_sdk =
        accounts::aws::from_environment(&lambda_env, accounts::config::AwsTrustStore::AwsRoots)
            .expect("a complete Lambda environment");
    let table = format!("lambda-env-{}", unique());
    let created = DynamoTable::new(&function_sdk, table.clone(), Arc::new(SystemClock));
    created
        .create_table_if_missing()
        .await
        .expect("create the table with the function's configuration");
    let described = aws_sdk_dynamodb::Client::new(&sdk().await)
        .describe_table()
        .table_name(&table)
        .send()
        .await
        .expect("the table is in the tests' region");
    let arn = described.table().and_then(|t| t.table_arn()).unwrap_or("");
    assert!(arn.contains(":us-east-1:"), "{arn}");
    created.delete_table().await.expect("drop the table");
}

#[tokio::test]
async fn ses_sends_through_moto() {
    let private = private_moto();
    let sdk = match &private {
        Some(moto) => {
            let mut builder = sdk().await.into_builder().endpoint_url(&moto.endpoint);
            // Set in code, so it wins over AWS_ENDPOINT_URL (the shared moto) in the clients.
            builder.insert_origin("endpoint_url", aws_types::origin::Origin::shared_config());
            builder.build()
        }
        None => sdk().await,
    };
    let endpoint = private
        .as_ref()
        .map_or_else(moto_endpoint, |m| m.endpoint.clone());
    let id = unique();
    let from = format!("sender-{id}@example.com");
    let to = format!("reader-{id}@example.org");
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(&from)
        .send()
        .await
        .expect("create the sender identity in moto");

    let mailer = SesMailer::new(&sdk, from.clone());
    assert_eq!(mailer.engine(), "ses");
    let subject = format!("Your code {id} — ünïcode");
    let sent = email(&to, &subject);
    mailer.send(&sent).await.expect("SES send");

    let data = moto_data(&endpoint).await;
    let messages = data["ses"]["Message"]
        .as_array()
        .expect("ses.Message in moto's data");
    let found: Vec<&Value> = messages
        .iter()
        .filter(|m| m["destinations"]["ToAddresses"] == json!([to]))
        .collect();
    assert_eq!(found.len(), 1, "messages to {to}: {found:?}");
    let message = found[0];
    assert_eq!(message["source"], json!(from));
    assert_eq!(message["subject"], json!(subject));
    // moto keeps the HTML part when there is one.
    assert_eq!(message["body"], json!(sent.html));
}

#[tokio::test]
async fn ses_refusal_is_not_sent_with_the_reason_but_not_the_body() {
    let sdk = sdk().await;
    // No identity created for this sender: SES refuses it.
    let mailer = SesMailer::new(&sdk, format!("unverified-{}@example.com", unique()));
    let err = mailer
        .send(&email("someone@example.org", "secret subject"))
        .await
        .unwrap_err();
    let MailError::NotSent(reason) = err;
    assert!(reason.contains("MessageRejected"), "{reason}");
    assert!(
        !reason.contains("123456") && !reason.contains("secret subject"),
        "{reason}"
    );
}

/// A fresh bus with a rule sending everything from this service to a fresh SQS queue.
async fn bus_with_queue(sdk: &aws_config::SdkConfig) -> (String, String) {
    let id = unique();
    let bus_name = format!("bus-{id}");
    let queue_name = format!("queue-{id}");
    let events = aws_sdk_eventbridge::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);

    events
        .create_event_bus()
        .name(&bus_name)
        .send()
        .await
        .expect("create the bus");
    let queue_url = sqs
        .create_queue()
        .queue_name(&queue_name)
        .send()
        .await
        .expect("create the queue")
        .queue_url
        .expect("a queue URL");
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("queue attributes")
        .attributes
        .and_then(|mut a| a.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("the queue ARN");
    events
        .put_rule()
        .name(format!("rule-{id}"))
        .event_bus_name(&bus_name)
        .event_pattern(json!({ "source": [EVENT_SOURCE] }).to_string())
        .send()
        .await
        .expect("create the rule");
    let target = aws_sdk_eventbridge::types::Target::builder()
        .id("queue")
        .arn(queue_arn)
        .build()
        .unwrap();
    let put = events
        .put_targets()
        .rule(format!("rule-{id}"))
        .event_bus_name(&bus_name)
        .targets(target)
        .send()
        .await
        .expect("add the queue as the rule's target");
    assert_eq!(put.failed_entry_count(), 0);
    (bus_name, queue_url)
}

/// Receives until `want` messages came or 15 s passed; the bodies as JSON.
async fn receive(sdk: &aws_config::SdkConfig, queue_url: &str, want: usize) -> Vec<Value> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut bodies = Vec::new();
    while bodies.len() < want && Instant::now() < deadline {
        let out = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("receive from the queue");
        for message in out.messages() {
            let body = message.body().expect("a message body");
            bodies.push(serde_json::from_str(body).expect("an EventBridge event as JSON"));
        }
    }
    bodies
}

#[tokio::test]
async fn eventbridge_publishes_twelve_events_in_two_batches() {
    let sdk = sdk().await;
    let (bus_name, queue_url) = bus_with_queue(&sdk).await;
    let bus = EventBridgeBus::new(&sdk, bus_name);
    assert_eq!(bus.engine(), "eventbridge");

    let time = Utc.with_ymd_and_hms(2025, 3, 14, 15, 9, 26).unwrap();
    let events: Vec<DomainEvent> = (0..12)
        .map(|n| {
            let detail = json!({
                "n": n,
                "user_id": format!("01J{n:023}"),
                "name": "Zoë \"quoted\" <b>",
                "nested": { "list": [1, 2.5, null, true], "empty": {} },
            });
            DomainEvent::new(format!("Type{}", n % 3), detail, time)
        })
        .collect();
    bus.publish(&events).await.expect("publish 12 events");

    let mut received = receive(&sdk, &queue_url, 12).await;
    assert_eq!(received.len(), 12, "received: {received:#?}");
    received.sort_by_key(|body| body["detail"]["n"].as_u64());
    for (body, sent) in received.iter().zip(&events) {
        assert_eq!(body["source"], json!(EVENT_SOURCE));
        assert_eq!(body["detail-type"], json!(sent.detail_type));
        assert_eq!(body["detail"], sent.detail);
        assert_time(&body["time"], time);
    }
}

/// moto passes the request's `Time` through as sent (epoch seconds); EventBridge itself
/// renders it as RFC 3339. Either way it must be the event's time.
fn assert_time(value: &Value, expected: DateTime<Utc>) {
    let got = match value {
        Value::Number(n) => {
            let secs = n.as_f64().expect("a number");
            DateTime::from_timestamp_millis((secs * 1000.0).round() as i64).expect("a time")
        }
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .expect("RFC 3339")
            .with_timezone(&Utc),
        other => panic!("unexpected time {other}"),
    };
    assert_eq!(got, expected);
}

#[tokio::test]
async fn eventbridge_reports_refused_entries_by_count() {
    let sdk = sdk().await;
    let (bus_name, queue_url) = bus_with_queue(&sdk).await;
    let bus = EventBridgeBus::new(&sdk, bus_name.clone());

    // An empty detail type is refused entry by entry; the others of the batch go through.
    let events = [event("Good", 1), event("", 2), event("Good", 3)];
    let err = bus.publish(&events).await.unwrap_err();
    let BusError::NotPublished(reason) = err;
    assert!(reason.starts_with("1 of 3 events"), "{reason}");
    assert!(
        reason.contains(&bus_name) && reason.contains("InvalidArgument"),
        "{reason}"
    );

    let received = receive(&sdk, &queue_url, 2).await;
    let mut ns: Vec<u64> = received
        .iter()
        .map(|b| b["detail"]["n"].as_u64().unwrap())
        .collect();
    ns.sort();
    assert_eq!(ns, [1, 3]);
}

#[tokio::test]
async fn eventbridge_missing_bus_is_not_published() {
    let sdk = sdk().await;
    let bus = EventBridgeBus::new(&sdk, format!("missing-{}", unique()));
    let events: Vec<DomainEvent> = (0..11).map(|n| event("Lost", n)).collect();
    let err = bus.publish(&events).await.unwrap_err();
    let BusError::NotPublished(reason) = err;
    assert!(
        reason.starts_with("11 of 11 events not published"),
        "{reason}"
    );
    bus.publish(&[]).await.expect("nothing to publish is fine");
}
