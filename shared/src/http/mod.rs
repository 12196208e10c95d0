//! The HTTP layer: one route table, a request context, DRF-shaped responses and the dispatch
//! that every entry point shares (accounts-local's hyper server and each Lambda function).
//! Handlers are thin: parse the request, call a domain function, shape the response.

pub mod auth;
mod dispatch;
mod handlers;
pub mod openapi;
pub mod request;
pub mod response;
pub mod routes;
#[cfg(test)]
mod tests;

pub use dispatch::Router;
pub use request::{ApiRequest, RequestCtx};
pub use response::ApiResponse;
pub use routes::{
    ACTIVITY_ROUTES, AUTH_ROUTES, BADGES_ROUTES, Group, Handler, HandlerFuture, PROFILES_ROUTES,
    Route, SOCIAL_ROUTES, USERS_ROUTES, route_table,
};
