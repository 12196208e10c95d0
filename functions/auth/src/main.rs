//! The `auth` function: the routes of the auth group behind API Gateway.

fn main() -> Result<(), lambda_http::Error> {
    accounts_lambda::serve_http(accounts::http::AUTH_ROUTES)
}
