//! The `social` function: the routes of the social group behind API Gateway.

fn main() -> Result<(), lambda_http::Error> {
    accounts_lambda::serve_http(accounts::http::SOCIAL_ROUTES)
}
