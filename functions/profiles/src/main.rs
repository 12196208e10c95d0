//! The `profiles` function: the routes of the profiles group behind API Gateway.

fn main() -> Result<(), lambda_http::Error> {
    accounts_lambda::serve_http(accounts::http::PROFILES_ROUTES)
}
