//! hello-lambda on a current-thread tokio runtime, the runtime the accounts functions start
//! (`functions/lambda-adapter`, `start_process`). `bench/coldstart` reports it beside
//! hello-lambda, the `#[tokio::main]` function every lambda_http example starts from: the
//! difference between the two is what the runtime's worker threads cost, and a function's
//! ratio to this one is what the accounts code adds on the same runtime.

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_http::Error> {
    hello_lambda::serve().await
}
