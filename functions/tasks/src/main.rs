//! The `tasks` function: the scheduled tasks, each schedule's constant input naming its task.
//! A run stops 30 s before the invocation's deadline, checkpoints, and asks to carry on.

use std::time::Duration;

fn main() -> Result<(), lambda_runtime::Error> {
    accounts_lambda::serve_events_with_deadline(
        |app, payload, deadline| accounts::triggers::run_task_until(app, payload, Some(deadline)),
        Duration::from_secs(30),
    )
}
