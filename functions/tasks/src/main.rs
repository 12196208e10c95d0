//! The `tasks` function: the scheduled tasks, each schedule's constant input naming its task.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    accounts_lambda::serve_events(accounts::triggers::run_task).await
}
