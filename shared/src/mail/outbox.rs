//! The local mailer: one JSON file per message in a directory, so a person (or a test) can
//! read verification codes without a mail server.
//!
//! File names are `<ulid>.json`, from a monotonic generator, so sorting the names sorts the
//! messages by the time they were sent, even for several in the same millisecond. Each file is
//! written under a temporary name in the same directory and then renamed, so a reader sees
//! either the whole message or none of it.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use async_trait::async_trait;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use ulid::{Generator, Ulid};

use super::{Email, MailError, Mailer};

/// One message as stored in the outbox.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMessage {
    pub to: String,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    /// When the message was written, RFC 3339 in UTC.
    #[serde(with = "rfc3339")]
    pub sent_at: DateTime<Utc>,
}

pub struct OutboxMailer {
    dir: PathBuf,
    from: String,
    ids: Mutex<Generator>,
}

impl OutboxMailer {
    /// Uses `dir` as the outbox, creating it (and its parents) when missing.
    pub fn new(dir: PathBuf, from: String) -> io::Result<Self> {
        fs::create_dir_all(&dir)?;
        Ok(OutboxMailer {
            dir,
            from,
            ids: Mutex::new(Generator::new()),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn next_id(&self) -> Result<Ulid, MailError> {
        // The generator holds no invariant a panic could break, so a poisoned lock is usable.
        let mut ids = self.ids.lock().unwrap_or_else(PoisonError::into_inner);
        ids.generate()
            .map_err(|e| MailError::NotSent(format!("outbox: no message id: {e}")))
    }
}

#[async_trait]
impl Mailer for OutboxMailer {
    fn engine(&self) -> &'static str {
        "outbox"
    }

    async fn send(&self, email: &Email) -> Result<(), MailError> {
        let id = self.next_id()?;
        let message = OutboxMessage {
            to: email.to.clone(),
            from: self.from.clone(),
            subject: email.subject.clone(),
            text: email.text.clone(),
            html: email.html.clone(),
            sent_at: Utc::now(),
        };
        let json = serde_json::to_vec_pretty(&message)
            .map_err(|e| MailError::NotSent(format!("outbox: {e}")))?;
        let dir = self.dir.clone();
        tokio::task::spawn_blocking(move || write_atomically(&dir, id, &json))
            .await
            .map_err(|e| MailError::NotSent(format!("outbox: writer task failed: {e}")))?
            .map_err(|e| MailError::NotSent(format!("outbox {}: {e}", self.dir.display())))
    }
}

fn write_atomically(dir: &Path, id: Ulid, json: &[u8]) -> io::Result<()> {
    // A dot-name that does not end in `.json`, so readers skip it until the rename.
    let temp = dir.join(format!(".{id}.tmp"));
    let target = dir.join(format!("{id}.json"));
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(json)?;
        file.sync_all()?;
        fs::rename(&temp, &target)
    })();
    if written.is_err() {
        // Best effort: the error that matters is the write's, not the clean-up's.
        let _ = fs::remove_file(&temp);
    }
    written
}

/// Reads every message in the outbox, oldest first. A missing directory is an empty outbox.
/// Blocking: from async code, call it through `tokio::task::spawn_blocking`.
pub fn read_outbox(dir: &Path) -> io::Result<Vec<OutboxMessage>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut paths = Vec::new();
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.ends_with(".json") && !name.starts_with('.') && entry.file_type()?.is_file() {
            paths.push(entry.path());
        }
    }
    // ULID names sort by time.
    paths.sort();
    paths
        .iter()
        .map(|path| {
            let bytes = fs::read(path)?;
            serde_json::from_slice(&bytes).map_err(|e| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("{}: {e}", path.display()),
                )
            })
        })
        .collect()
}

/// `sent_at` as RFC 3339 with a `Z` suffix and millisecond precision, e.g.
/// `2025-01-31T12:00:00.123Z`.
mod rfc3339 {
    use super::*;
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(time: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&time.to_rfc3339_opts(SecondsFormat::Millis, true))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<DateTime<Utc>, D::Error> {
        let text = String::deserialize(d)?;
        DateTime::parse_from_rfc3339(&text)
            .map(|t| t.with_timezone(&Utc))
            .map_err(serde::de::Error::custom)
    }
}
