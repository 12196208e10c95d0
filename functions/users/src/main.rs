//! The `users` function: the routes of the users group behind API Gateway.

fn main() -> Result<(), lambda_http::Error> {
    accounts_lambda::serve_http(accounts::http::USERS_ROUTES)
}
