//! The runner every scheduled task goes through: one run at a time per task (a lease), a walk
//! over the table in pages (parallel scan segments or index queries), a checkpoint after every
//! page, a stop before the time budget runs out, and a run record plus one JSON log line.
//!
//! A task is a list of phases ([`Source`]s) and what to do with each page of items. Its
//! running totals (a report's counts, say) are its `State`: merged after each page and saved
//! in the checkpoint with the positions, in the same write, so a run that resumes carries on
//! from exactly the pages already counted. Everything a page writes must be idempotent: a
//! crash between a page's writes and its checkpoint repeats that page.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::App;
use crate::bus::DomainEvent;
use crate::error::Error;
use crate::store::{
    Condition, Cursor, Item, Query, Scan, StoreError, Update, Value, keys, to_item,
};

/// How long a run holds its task's lease without renewing it (every checkpoint renews it).
/// Longer than a Lambda invocation can last, so a crashed run's lease ends by the next run.
pub const LEASE_SECS: i64 = 15 * 60;
/// Items per page of a walk.
pub const PAGE_SIZE: u32 = 500;
/// Segments of a parallel scan.
pub const SCAN_SEGMENTS: u32 = 4;
/// Run records are kept this long.
pub const RUN_RETENTION_SECS: i64 = 90 * 24 * 3600;
/// The bus event that asks the `tasks` function to carry on with a checkpointed task.
pub const CONTINUE_DETAIL_TYPE: &str = "TaskContinue";

/// How much one run may do: a wall-clock deadline (the Lambda's, less a reserve) and/or a
/// number of pages (tests and `run-task --max-pages`).
#[derive(Clone, Debug, Default)]
pub struct Budget {
    pub deadline: Option<Instant>,
    pub max_pages: Option<u64>,
    /// Items per page instead of [`PAGE_SIZE`] (small pages make small test data span several).
    pub page_size: Option<u32>,
}

impl Budget {
    /// No limit: the run finishes the walk.
    pub fn unlimited() -> Self {
        Budget::default()
    }

    /// Stops before `deadline`.
    pub fn until(deadline: Instant) -> Self {
        Budget {
            deadline: Some(deadline),
            ..Budget::default()
        }
    }

    /// Stops after `pages` pages.
    pub fn pages(pages: u64) -> Self {
        Budget {
            max_pages: Some(pages),
            ..Budget::default()
        }
    }

    pub fn with_page_size(mut self, size: u32) -> Self {
        self.page_size = Some(size.max(1));
        self
    }

    fn out_of_time(&self) -> bool {
        self.deadline.is_some_and(|d| Instant::now() >= d)
    }
}

/// One phase of a walk.
#[derive(Clone, Debug)]
pub enum Source {
    /// Every item of the table (matching the filter), in parallel segments.
    Scan { filter: Option<Condition> },
    /// The pages of one query.
    Query(Query),
}

/// What one run counts. `read` and `written` are store items; `fixed` is what the task
/// corrected; `details` are task-specific counts (`deleted`, `alerts_sent` ...).
#[derive(Default)]
pub struct Counts {
    pub read: AtomicU64,
    pub written: AtomicU64,
    pub fixed: AtomicU64,
    details: Mutex<BTreeMap<&'static str, u64>>,
}

impl Counts {
    pub fn read(&self, n: u64) {
        self.read.fetch_add(n, Ordering::Relaxed);
    }
    pub fn written(&self, n: u64) {
        self.written.fetch_add(n, Ordering::Relaxed);
    }
    pub fn fixed(&self, n: u64) {
        self.fixed.fetch_add(n, Ordering::Relaxed);
    }
    /// Adds to a task-specific count.
    pub fn note(&self, name: &'static str, n: u64) {
        let mut details = self.details.lock().unwrap_or_else(|e| e.into_inner());
        *details.entry(name).or_default() += n;
    }
    fn details(&self) -> BTreeMap<String, u64> {
        let details = self.details.lock().unwrap_or_else(|e| e.into_inner());
        details.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect()
    }
}

/// What a task sees of its run.
pub struct Run<'a> {
    pub app: &'a App,
    /// The time the walk started (kept across resumed runs): windows and days are taken from it.
    pub as_of: DateTime<Utc>,
    pub run_id: String,
    pub counts: Counts,
    pub page_size: u32,
}

/// A scheduled task: its phases and what it does with each page.
#[async_trait]
pub trait Task: Send + Sync {
    /// Running totals carried from page to page (and across a checkpoint).
    type State: Default + Serialize + DeserializeOwned + Send + Sync;

    fn name(&self) -> &'static str;

    /// The phases of the walk, in order. Called by every run of a walk: what it reads must not
    /// change until the walk finishes (a watermark that `finish` moves, say).
    async fn sources(&self, run: &Run<'_>) -> Result<Vec<Source>, Error>;

    /// Handles one page of phase `phase`; returns what to merge into the state.
    async fn page(
        &self,
        run: &Run<'_>,
        phase: usize,
        items: Vec<Item>,
    ) -> Result<Self::State, Error>;

    /// Merges a page's totals into the state.
    fn merge(_state: &mut Self::State, _delta: Self::State) {}

    /// After the last page: writes what the totals make (a report item, say).
    async fn finish(&self, _run: &Run<'_>, _state: Self::State) -> Result<(), Error> {
        Ok(())
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// The walk is done.
    Completed,
    /// The budget ran out; the checkpoint holds the position for the next run.
    Checkpointed,
    /// Another run of the task holds the lease; this one did nothing.
    Skipped,
    Failed,
}

/// The record of one run (`keys::task_run`), as `GET /api/tasks/runs/` lists it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    pub task: String,
    pub status: RunStatus,
    pub started_at: DateTime<Utc>,
    pub finished_at: DateTime<Utc>,
    pub duration_ms: u64,
    pub items_read: u64,
    pub items_written: u64,
    pub items_fixed: u64,
    #[serde(default)]
    pub details: BTreeMap<String, u64>,
    /// The run whose checkpoint this run carried on from.
    #[serde(default)]
    pub resumed_from: Option<String>,
    /// When the walk this run belongs to started (the `as_of` of every run of it).
    pub walk_started_at: DateTime<Utc>,
    #[serde(default)]
    pub pages: u64,
    #[serde(default)]
    pub error: Option<String>,
}

impl RunRecord {
    pub fn to_item(&self) -> Result<Item, crate::store::ItemShapeError> {
        let mut item = to_item(self)?;
        let key = keys::task_run(&self.task, &self.run_id);
        keys::set_key(&mut item, key);
        let (pk, sk) = keys::task_run_index(&self.run_id);
        keys::set_index_keys(&mut item, keys::Index::Gsi1, pk, sk);
        item.insert(
            keys::attr::EXPIRES_AT.into(),
            Value::Int(self.finished_at.timestamp() + RUN_RETENTION_SECS),
        );
        Ok(item)
    }
}

/// A segment's or a query's position: not started, after a cursor, or finished.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
struct Position {
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    done: bool,
}

/// The checkpoint as stored (besides the lease attributes).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Checkpoint {
    /// The run that wrote it last.
    run_id: String,
    as_of: DateTime<Utc>,
    phase: usize,
    positions: Vec<Position>,
    /// The task's state as JSON text.
    state: String,
}

/// Walk state shared by the segments of a run.
struct Progress<S> {
    checkpoint: Checkpoint,
    state: S,
    /// When the checkpoint was last saved.
    saved: Instant,
}

/// Empty pages skip the checkpoint, but the lease is renewed at least this often.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Takes the task's lease. `Ok(None)` when another run holds it; otherwise the checkpoint an
/// earlier run left, if any.
async fn acquire(app: &App, task: &str, run_id: &str) -> Result<Option<Option<Checkpoint>>, Error> {
    let now = app.clock.epoch_seconds();
    let condition = Condition::Or(vec![
        Condition::NotExists("lease_until".into()),
        Condition::Le("lease_until".into(), Value::Int(now)),
    ]);
    let update = Update::new()
        .set("lease_until", now + LEASE_SECS)
        .set("lease_run", run_id);
    match app
        .table
        .update(&keys::task_checkpoint(task), update, Some(condition))
        .await
    {
        Ok(item) => {
            let checkpoint = match item.get("checkpoint").and_then(Value::as_str) {
                Some(text) => serde_json::from_str::<Checkpoint>(text).ok(),
                None => None,
            };
            Ok(Some(checkpoint))
        }
        Err(StoreError::ConditionFailed) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn holds_lease(run_id: &str) -> Condition {
    Condition::eq("lease_run", run_id)
}

/// Saves the checkpoint and renews (or, with `release`, gives up) the lease.
async fn save(app: &App, task: &str, checkpoint: &Checkpoint, release: bool) -> Result<(), Error> {
    let text = serde_json::to_string(checkpoint).map_err(|e| Error::Internal(e.to_string()))?;
    let lease = if release {
        0
    } else {
        app.clock.epoch_seconds() + LEASE_SECS
    };
    let update = Update::new()
        .set("checkpoint", text)
        .set("lease_until", lease)
        .set("updated_at", Value::from(app.clock.now()));
    app.table
        .update(
            &keys::task_checkpoint(task),
            update,
            Some(holds_lease(&checkpoint.run_id)),
        )
        .await
        .map_err(|e| match e {
            StoreError::ConditionFailed => {
                Error::Conflict(format!("task {task}: the lease was lost to another run"))
            }
            other => other.into(),
        })?;
    Ok(())
}

/// Runs `task` within `budget` and returns its run record (also stored and logged). A run
/// that fails is recorded as failed and its error returned; its checkpoint stays for the next.
pub async fn execute<T: Task>(app: &App, task: &T, budget: &Budget) -> Result<RunRecord, Error> {
    let name = task.name();
    let started = Instant::now();
    let started_at = app.clock.now();
    let run_id = ulid::Ulid::from_datetime(started_at.into()).to_string();

    let Some(previous) = acquire(app, name, &run_id).await? else {
        let record = skipped_record(run_id, name, started_at);
        return finish_record(app, record, started).await;
    };
    let resumed_from = previous.as_ref().map(|c| c.run_id.clone());
    let (checkpoint, state) = resume_or_start::<T::State>(previous, &run_id, started_at);
    let run = Run {
        app,
        as_of: checkpoint.as_of,
        run_id: run_id.clone(),
        counts: Counts::default(),
        page_size: budget.page_size.unwrap_or(PAGE_SIZE),
    };
    let progress = Mutex::new(Progress {
        checkpoint,
        state,
        saved: Instant::now(),
    });
    let pages = AtomicU64::new(0);
    let outcome = walk(&run, task, budget, &progress, &pages).await;

    let Progress {
        checkpoint, state, ..
    } = progress.into_inner().unwrap_or_else(|e| e.into_inner());
    let (status, error) = conclude(&run, task, outcome, &checkpoint, state).await?;

    let record = RunRecord {
        run_id,
        task: name.to_owned(),
        status,
        started_at,
        finished_at: app.clock.now(),
        duration_ms: 0,
        items_read: run.counts.read.load(Ordering::Relaxed),
        items_written: run.counts.written.load(Ordering::Relaxed),
        items_fixed: run.counts.fixed.load(Ordering::Relaxed),
        details: run.counts.details(),
        resumed_from,
        walk_started_at: run.as_of,
        pages: pages.load(Ordering::Relaxed),
        error: error.as_ref().map(|e| e.to_string()),
    };
    let record = finish_record(app, record, started).await?;
    match error {
        Some(e) => Err(e),
        None => Ok(record),
    }
}

/// The record of a run that did nothing: another run of the task holds its lease.
fn skipped_record(run_id: String, task: &str, started_at: DateTime<Utc>) -> RunRecord {
    RunRecord {
        run_id,
        task: task.to_owned(),
        status: RunStatus::Skipped,
        started_at,
        finished_at: started_at,
        duration_ms: 0,
        items_read: 0,
        items_written: 0,
        items_fixed: 0,
        details: BTreeMap::new(),
        resumed_from: None,
        walk_started_at: started_at,
        pages: 0,
        error: Some("another run of this task holds its lease".into()),
    }
}

/// Where the walk starts: the checkpoint an earlier run left (taken over by this run, its
/// state read back; a state that no longer reads starts from the default), or a new walk as of
/// `started_at`.
fn resume_or_start<S: Default + DeserializeOwned>(
    previous: Option<Checkpoint>,
    run_id: &str,
    started_at: DateTime<Utc>,
) -> (Checkpoint, S) {
    match previous {
        Some(mut checkpoint) => {
            let state: S = serde_json::from_str(&checkpoint.state).unwrap_or_default();
            checkpoint.run_id = run_id.to_owned();
            (checkpoint, state)
        }
        None => (
            Checkpoint {
                run_id: run_id.to_owned(),
                as_of: started_at,
                phase: 0,
                positions: Vec::new(),
                state: String::new(),
            },
            S::default(),
        ),
    }
}

/// How the run ends after its walk: completed (the task's `finish` ran, the checkpoint and
/// lease go), checkpointed (a continuation asked for), or failed (the checkpoint kept, the
/// lease given up). `Err` only when a checkpointed run could not save its checkpoint.
async fn conclude<T: Task>(
    run: &Run<'_>,
    task: &T,
    outcome: Result<bool, Error>,
    checkpoint: &Checkpoint,
    state: T::State,
) -> Result<(RunStatus, Option<Error>), Error> {
    let (app, name) = (run.app, task.name());
    Ok(match outcome {
        Ok(true) => match task.finish(run, state).await {
            Ok(()) => {
                // The walk is over: the checkpoint (and the lease with it) goes.
                app.table
                    .delete(&keys::task_checkpoint(name), Some(holds_lease(&run.run_id)))
                    .await
                    .ok();
                (RunStatus::Completed, None)
            }
            Err(e) => {
                save(app, name, checkpoint, true).await.ok();
                (RunStatus::Failed, Some(e))
            }
        },
        Ok(false) => {
            save(app, name, checkpoint, true).await?;
            continue_later(app, name).await;
            (RunStatus::Checkpointed, None)
        }
        Err(e) => {
            // Keep what was done; give the lease up so the next run carries on at once.
            save(app, name, checkpoint, true).await.ok();
            (RunStatus::Failed, Some(e))
        }
    })
}

/// Stores and logs the record.
async fn finish_record(
    app: &App,
    mut record: RunRecord,
    started: Instant,
) -> Result<RunRecord, Error> {
    record.duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let summary = serde_json::to_string(&record).unwrap_or_default();
    tracing::info!(
        task = %record.task,
        run_id = %record.run_id,
        status = ?record.status,
        items_read = record.items_read,
        items_written = record.items_written,
        items_fixed = record.items_fixed,
        duration_ms = record.duration_ms,
        summary = %summary,
        "task run"
    );
    app.table.put(record.to_item()?, None).await?;
    crate::metrics::emit(crate::metrics::Metric::TaskRun {
        task: &record.task,
        completed: record.status == RunStatus::Completed,
        pages: record.pages,
        duration_ms: record.duration_ms,
    });
    Ok(record)
}

/// Asks for a continuation right away: on Lambda the bus delivers `TaskContinue` to the
/// `tasks` function (template.yaml); locally nothing subscribes, and the next scheduled run
/// or `accounts-admin run-task` carries on from the checkpoint.
async fn continue_later(app: &App, task: &str) {
    let event = DomainEvent::new(
        CONTINUE_DETAIL_TYPE,
        json!({ "task": task }),
        app.clock.now(),
    );
    if let Err(e) = app.bus.publish(&[event]).await {
        tracing::warn!(error = %e, task, "continuation not published; the next run carries on");
    }
}

/// Walks the phases from the checkpoint on. `Ok(true)` when every phase is done, `Ok(false)`
/// when the budget ran out first.
async fn walk<T: Task>(
    run: &Run<'_>,
    task: &T,
    budget: &Budget,
    progress: &Mutex<Progress<T::State>>,
    pages: &AtomicU64,
) -> Result<bool, Error> {
    let sources = task.sources(run).await?;
    loop {
        let (phase, positions) = {
            let p = progress.lock().unwrap_or_else(|e| e.into_inner());
            (p.checkpoint.phase, p.checkpoint.positions.clone())
        };
        let Some(source) = sources.get(phase) else {
            return Ok(true);
        };
        let lanes = match source {
            Source::Scan { .. } => SCAN_SEGMENTS as usize,
            Source::Query(_) => 1,
        };
        let positions = if positions.len() == lanes {
            positions
        } else {
            vec![Position::default(); lanes]
        };
        {
            let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
            p.checkpoint.positions = positions.clone();
        }
        let walks = positions.into_iter().enumerate().map(|(lane, position)| {
            walk_lane(
                run, task, budget, progress, pages, source, phase, lane, position,
            )
        });
        let finished = futures::future::try_join_all(walks).await?;
        if !finished.iter().all(|done| *done) {
            return Ok(false);
        }
        // Not saved here: the next page's checkpoint records the new phase, and a run that
        // resumes from the old one finds every lane of it done.
        let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
        p.checkpoint.phase = phase + 1;
        p.checkpoint.positions = Vec::new();
    }
}

/// One segment (or the query) of a phase, page by page. `Ok(true)` when it reached the end.
#[allow(clippy::too_many_arguments)]
async fn walk_lane<T: Task>(
    run: &Run<'_>,
    task: &T,
    budget: &Budget,
    progress: &Mutex<Progress<T::State>>,
    pages: &AtomicU64,
    source: &Source,
    phase: usize,
    lane: usize,
    mut position: Position,
) -> Result<bool, Error> {
    while !position.done {
        if budget.out_of_time() {
            return Ok(false);
        }
        // Taking a page number first keeps a page budget exact across parallel segments.
        let taken = pages.fetch_add(1, Ordering::SeqCst);
        if budget.max_pages.is_some_and(|max| taken >= max) {
            pages.fetch_sub(1, Ordering::SeqCst);
            return Ok(false);
        }
        let cursor = position.cursor.as_deref().map(Cursor::from_client);
        let page = match source {
            Source::Scan { filter } => {
                let mut scan = Scan::segment(lane as u32, SCAN_SEGMENTS)
                    .limit(run.page_size)
                    .after(cursor);
                scan.filter = filter.clone();
                run.app.table.scan(scan).await?
            }
            Source::Query(query) => {
                let query = query.clone().limit(run.page_size).after(cursor);
                run.app.table.query(query).await?
            }
        };
        run.counts.read(page.items.len() as u64);
        let empty = page.items.is_empty();
        let delta = task.page(run, phase, page.items).await?;
        position = Position {
            done: page.next.is_none(),
            cursor: page.next.map(|c| c.as_str().to_owned()),
        };
        // The totals and the position move together, in memory and in the checkpoint. An
        // empty page changes no totals: its position is saved with the next page (repeating
        // it is free), unless the lease wants renewing.
        let checkpoint = {
            let mut p = progress.lock().unwrap_or_else(|e| e.into_inner());
            T::merge(&mut p.state, delta);
            if let Some(slot) = p.checkpoint.positions.get_mut(lane) {
                *slot = position.clone();
            }
            if empty && p.saved.elapsed() < RENEW_EVERY {
                None
            } else {
                p.checkpoint.state =
                    serde_json::to_string(&p.state).map_err(|e| Error::Internal(e.to_string()))?;
                p.saved = Instant::now();
                Some(p.checkpoint.clone())
            }
        };
        if let Some(checkpoint) = checkpoint {
            save(run.app, task.name(), &checkpoint, false).await?;
        }
    }
    Ok(true)
}

/// The run records, newest first: every task's (GSI1), or one task's (its partition).
pub async fn list_runs(
    app: &App,
    _by: crate::access::Admin,
    task: Option<&str>,
    page_size: u32,
    cursor: Option<Cursor>,
) -> Result<(Vec<RunRecord>, Option<Cursor>), Error> {
    let query = match task {
        Some(task) => Query::new(keys::Index::Primary, keys::task_partition(task)).sort(
            crate::store::SortCondition::BeginsWith(keys::TASK_RUN_PREFIX.into()),
        ),
        None => Query::new(keys::Index::Gsi1, keys::task_run_index("").0),
    };
    let page = app
        .table
        .query(query.descending().limit(page_size).after(cursor))
        .await?;
    let records = page
        .items
        .iter()
        .map(crate::store::from_item)
        .collect::<Result<Vec<RunRecord>, _>>()?;
    Ok((records, page.next))
}

/// Puts an item once: `true` when this call wrote it, `false` when it was there already.
pub async fn put_once(app: &App, item: Item) -> Result<bool, Error> {
    match app.table.put(item, Some(Condition::item_absent())).await {
        Ok(()) => Ok(true),
        Err(StoreError::ConditionFailed) => Ok(false),
        Err(e) => Err(e.into()),
    }
}

/// A page's items handled `CONCURRENCY` at a time.
pub const CONCURRENCY: usize = 16;

/// Runs `f` on every item of a page, [`CONCURRENCY`] at a time, stopping at the first error.
pub async fn for_each<'a, T, F, Fut, R>(items: Vec<T>, f: F) -> Result<Vec<R>, Error>
where
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<R, Error>> + 'a,
{
    use futures::StreamExt;
    let results: Vec<Result<R, Error>> = futures::stream::iter(items.into_iter().map(f))
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    results.into_iter().collect()
}
