//! The `badges` function: the routes of the badges group behind API Gateway.

fn main() -> Result<(), lambda_http::Error> {
    accounts_lambda::serve_http(accounts::http::BADGES_ROUTES)
}
