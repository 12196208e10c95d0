//! The one route table. accounts-local serves all of it; each Lambda function serves the
//! routes of its group; `template.yaml` declares the same routes (a test keeps them equal).

use std::future::Future;
use std::pin::Pin;

use http::Method;

use super::handlers;
use super::request::RequestCtx;
use super::response::ApiResponse;
use crate::App;
use crate::error::Error;

/// The endpoint groups: one Lambda function each.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    Auth,
    Users,
    Profiles,
    Social,
    Activity,
    Badges,
}

impl Group {
    pub const ALL: [Group; 6] = [
        Group::Auth,
        Group::Users,
        Group::Profiles,
        Group::Social,
        Group::Activity,
        Group::Badges,
    ];

    /// The group's name: its function's directory under `functions/` and its health path.
    pub fn name(self) -> &'static str {
        match self {
            Group::Auth => "auth",
            Group::Users => "users",
            Group::Profiles => "profiles",
            Group::Social => "social",
            Group::Activity => "activity",
            Group::Badges => "badges",
        }
    }

    pub fn from_name(name: &str) -> Option<Group> {
        Group::ALL.into_iter().find(|g| g.name() == name)
    }
}

pub type HandlerFuture<'a> = Pin<Box<dyn Future<Output = Result<ApiResponse, Error>> + Send + 'a>>;

/// A handler: an async function of the App and the request context.
pub type Handler = for<'a> fn(&'a App, &'a RequestCtx) -> HandlerFuture<'a>;

pub struct Route {
    pub method: Method,
    /// The path pattern with its trailing slash, parameters in braces: `/api/users/{id}/`.
    /// Requests match with or without the trailing slash.
    pub path: &'static str,
    pub group: Group,
    pub handler: Handler,
}

/// Turns `async fn(&App, &RequestCtx) -> Result<ApiResponse, Error>` into a [`Handler`].
macro_rules! handler {
    ($f:path) => {{
        fn boxed<'a>(app: &'a App, ctx: &'a RequestCtx) -> HandlerFuture<'a> {
            Box::pin($f(app, ctx))
        }
        boxed as Handler
    }};
}

macro_rules! routes {
    ($( $method:ident $path:literal => $group:ident, $f:path; )*) => {
        vec![ $( Route {
            method: Method::$method,
            path: $path,
            group: Group::$group,
            handler: handler!($f),
        }, )* ]
    };
}

/// Every route of the service.
pub fn route_table() -> &'static [Route] {
    static TABLE: std::sync::OnceLock<Vec<Route>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        routes! {
            GET "/api/health/" => Auth, handlers::health::service;
            GET "/api/health/auth/" => Auth, handlers::health::service;
            POST "/api/auth/register/" => Auth, handlers::accounts::register;
            POST "/api/auth/jwt/register/" => Auth, handlers::accounts::jwt_register;
            POST "/api/auth/verify/" => Auth, handlers::accounts::verify;
            POST "/api/auth/resend-code/" => Auth, handlers::accounts::resend_code;
            POST "/api/auth/password/change/" => Auth, handlers::accounts::change_password;
            POST "/api/auth/password/reset/" => Auth, handlers::accounts::request_reset;
            POST "/api/auth/password/reset/confirm/" => Auth, handlers::accounts::confirm_reset;
            POST "/api/auth/login/" => Auth, handlers::sessions::login;
            POST "/api/auth/logout/" => Auth, handlers::sessions::logout;
            GET "/api/auth/me/" => Auth, handlers::sessions::me;
            GET "/api/auth/session/check/" => Auth, handlers::sessions::session_check;
            POST "/api/auth/session/refresh/" => Auth, handlers::sessions::session_refresh;
            POST "/api/auth/jwt/login/" => Auth, handlers::sessions::jwt_login;
            POST "/api/auth/jwt/refresh/" => Auth, handlers::tokens::refresh;
            POST "/api/auth/jwt/logout/" => Auth, handlers::tokens::logout;
            POST "/api/auth/jwt/verify/" => Auth, handlers::tokens::verify;
            GET "/api/auth/jwt/user-info/" => Auth, handlers::tokens::user_info;
            GET "/api/auth/jwks/" => Auth, handlers::tokens::jwks;
            GET "/.well-known/jwks.json" => Auth, handlers::tokens::jwks;
            POST "/api/auth/tokens/" => Auth, handlers::tokens::create_api_token;
            GET "/api/auth/tokens/" => Auth, handlers::tokens::list_api_tokens;
            DELETE "/api/auth/tokens/{id}/" => Auth, handlers::tokens::revoke_api_token;
            GET "/api/schema/" => Auth, super::openapi::serve;
            GET "/api/health/users/" => Users, handlers::health::service;
            GET "/api/users/" => Users, handlers::users::list;
            POST "/api/users/" => Users, handlers::users::create;
            GET "/api/users/{id}/" => Users, handlers::users::retrieve;
            PUT "/api/users/{id}/" => Users, handlers::users::replace;
            PATCH "/api/users/{id}/" => Users, handlers::users::partial_update;
            DELETE "/api/users/{id}/" => Users, handlers::users::destroy;
            POST "/api/users/{id}/suspend/" => Users, handlers::users::suspend;
            POST "/api/users/{id}/unsuspend/" => Users, handlers::users::unsuspend;
            GET "/api/health/profiles/" => Profiles, handlers::health::service;
            GET "/api/profiles/" => Profiles, handlers::profiles::list_profiles;
            POST "/api/profiles/" => Profiles, handlers::profiles::create_profile;
            GET "/api/profiles/{id}/" => Profiles, handlers::profiles::get_profile;
            PUT "/api/profiles/{id}/" => Profiles, handlers::profiles::update_profile;
            PATCH "/api/profiles/{id}/" => Profiles, handlers::profiles::update_profile;
            GET "/api/professional-profiles/" => Profiles, handlers::profiles::list_professional;
            POST "/api/professional-profiles/" => Profiles, handlers::profiles::create_professional;
            GET "/api/professional-profiles/{id}/" => Profiles, handlers::profiles::get_professional;
            PUT "/api/professional-profiles/{id}/" => Profiles, handlers::profiles::update_professional;
            PATCH "/api/professional-profiles/{id}/" => Profiles, handlers::profiles::update_professional;
            DELETE "/api/professional-profiles/{id}/" => Profiles, handlers::profiles::delete_professional;
            POST "/api/professional-profiles/{id}/verify/" => Profiles, handlers::profiles::verify_professional;
            GET "/api/settings/" => Profiles, handlers::profiles::get_settings;
            PUT "/api/settings/" => Profiles, handlers::profiles::update_settings;
            PATCH "/api/settings/" => Profiles, handlers::profiles::update_settings;
            GET "/api/health/social/" => Social, handlers::health::service;
            POST "/api/follows/" => Social, handlers::social::create_follow;
            GET "/api/follows/" => Social, handlers::social::list_follows;
            GET "/api/follows/{id}/" => Social, handlers::social::get_follow;
            DELETE "/api/follows/{id}/" => Social, handlers::social::delete_follow;
            POST "/api/follows/{id}/approve/" => Social, handlers::social::approve_follow;
            POST "/api/follows/{id}/reject/" => Social, handlers::social::reject_follow;
            POST "/api/blocks/" => Social, handlers::social::create_block;
            GET "/api/blocks/" => Social, handlers::social::list_blocks;
            DELETE "/api/blocks/{id}/" => Social, handlers::social::delete_block;
            GET "/api/relationships/" => Social, handlers::social::relationships;
            GET "/api/health/activity/" => Activity, handlers::health::service;
            GET "/api/sessions/" => Activity, handlers::activity::list_sessions;
            POST "/api/sessions/" => Activity, handlers::activity::create_session;
            DELETE "/api/sessions/" => Activity, handlers::activity::end_other_sessions;
            GET "/api/sessions/{id}/" => Activity, handlers::activity::get_session;
            DELETE "/api/sessions/{id}/" => Activity, handlers::activity::end_session;
            GET "/api/events/" => Activity, handlers::activity::list_events;
            POST "/api/events/" => Activity, handlers::activity::log_event;
            POST "/api/events/{id}/review/" => Activity, handlers::activity::review_event;
            GET "/api/tasks/runs/" => Activity, handlers::tasks::list_runs;
            GET "/api/reports/" => Activity, handlers::tasks::reports;
            GET "/api/health/badges/" => Badges, handlers::health::service;
            GET "/api/badges/" => Badges, handlers::badges::list;
            POST "/api/badges/" => Badges, handlers::badges::create;
            GET "/api/badges/leaderboard/" => Badges, handlers::badges::leaderboard;
            GET "/api/badges/analytics/" => Badges, handlers::badges::analytics;
            GET "/api/badges/{id}/" => Badges, handlers::badges::retrieve;
            PUT "/api/badges/{id}/" => Badges, handlers::badges::update;
            PATCH "/api/badges/{id}/" => Badges, handlers::badges::update;
            DELETE "/api/badges/{id}/" => Badges, handlers::badges::destroy;
            GET "/api/user-badges/" => Badges, handlers::badges::list_user_badges;
            POST "/api/user-badges/" => Badges, handlers::badges::award;
            GET "/api/user-badges/{id}/" => Badges, handlers::badges::retrieve_user_badge;
            PATCH "/api/user-badges/{id}/" => Badges, handlers::badges::update_user_badge;
            DELETE "/api/user-badges/{id}/" => Badges, handlers::badges::revoke;
            GET "/api/users/{id}/badge-progress/" => Badges, handlers::badge_progress::badge_progress;
        }
    })
}
