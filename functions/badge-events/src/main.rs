//! The `badge-events` function: domain events from the EventBridge bus.

fn main() -> Result<(), lambda_runtime::Error> {
    accounts_lambda::serve_events(accounts::triggers::handle_domain_event)
}
