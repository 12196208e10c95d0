//! The smallest `lambda_http` function, as every lambda_http example starts (`#[tokio::main]`):
//! the same lambda_http features and build profile as the accounts functions, and nothing else.
//! `bench/coldstart` reports each function beside it, so the ratios show what a function costs
//! against the hello world a Rust Lambda user knows. `hello-lambda-current-thread` is the same
//! on the functions' runtime.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    hello_lambda::serve().await
}
