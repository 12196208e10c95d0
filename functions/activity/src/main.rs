//! The `activity` function: the routes of the activity group behind API Gateway.

fn main() -> Result<(), lambda_http::Error> {
    accounts_lambda::serve_http(accounts::http::ACTIVITY_ROUTES)
}
