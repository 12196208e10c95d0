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
    ($group:ident: $( $method:ident $path:literal => $f:path; )*) => {
        &[ $( Route {
            method: Method::$method,
            path: $path,
            group: Group::$group,
            handler: handler!($f),
        }, )* ]
    };
}

impl Group {
    /// The group's routes: what its Lambda function serves.
    pub fn routes(self) -> &'static [Route] {
        match self {
            Group::Auth => AUTH_ROUTES,
            Group::Users => USERS_ROUTES,
            Group::Profiles => PROFILES_ROUTES,
            Group::Social => SOCIAL_ROUTES,
            Group::Activity => ACTIVITY_ROUTES,
            Group::Badges => BADGES_ROUTES,
        }
    }
}

/// Every route of the service, group by group (accounts-local serves all of them).
pub fn route_table() -> impl Iterator<Item = &'static Route> {
    Group::ALL.into_iter().flat_map(Group::routes)
}

// One static per group rather than one table filtered by group: a function names only its own
// group's static, so the linker leaves the other groups' handlers (and the domain code only they
// reach) out of its binary.

pub static AUTH_ROUTES: &[Route] = routes! { Auth:
    GET "/api/health/" => handlers::health::service;
    GET "/api/health/auth/" => handlers::health::service;
    POST "/api/auth/register/" => handlers::accounts::register;
    POST "/api/auth/jwt/register/" => handlers::accounts::jwt_register;
    POST "/api/auth/register/professional/" => handlers::accounts::register_professional;
    POST "/api/auth/verify/" => handlers::accounts::verify;
    POST "/api/auth/resend-code/" => handlers::accounts::resend_code;
    POST "/api/auth/password/change/" => handlers::accounts::change_password;
    POST "/api/auth/password/reset/" => handlers::accounts::request_reset;
    POST "/api/auth/password/reset/confirm/" => handlers::accounts::confirm_reset;
    POST "/api/auth/email/cancel/" => handlers::accounts::cancel_email_change;
    POST "/api/auth/login/" => handlers::sessions::login;
    POST "/api/auth/logout/" => handlers::sessions::logout;
    GET "/api/auth/me/" => handlers::sessions::me;
    GET "/api/auth/session/check/" => handlers::sessions::session_check;
    POST "/api/auth/session/refresh/" => handlers::sessions::session_refresh;
    POST "/api/auth/jwt/login/" => handlers::sessions::jwt_login;
    POST "/api/auth/jwt/refresh/" => handlers::tokens::refresh;
    POST "/api/auth/jwt/logout/" => handlers::tokens::logout;
    POST "/api/auth/jwt/verify/" => handlers::tokens::verify;
    GET "/api/auth/jwt/user-info/" => handlers::tokens::user_info;
    GET "/api/auth/jwks/" => handlers::tokens::jwks;
    GET "/.well-known/jwks.json" => handlers::tokens::jwks;
    POST "/api/auth/tokens/" => handlers::tokens::create_api_token;
    GET "/api/auth/tokens/" => handlers::tokens::list_api_tokens;
    DELETE "/api/auth/tokens/{id}/" => handlers::tokens::revoke_api_token;
    GET "/api/auth/mfa/factors/" => handlers::mfa::list_factors;
    POST "/api/auth/mfa/factors/" => handlers::mfa::enrol;
    PATCH "/api/auth/mfa/factors/{id}/" => handlers::mfa::rename;
    DELETE "/api/auth/mfa/factors/{id}/" => handlers::mfa::remove;
    POST "/api/auth/mfa/factors/{id}/confirm/" => handlers::mfa::confirm;
    POST "/api/auth/mfa/recovery-codes/" => handlers::mfa::regenerate_recovery_codes;
    POST "/api/auth/mfa/verify/" => handlers::mfa::verify;
    POST "/api/auth/mfa/verify/passkey/" => handlers::mfa::passkey_options_for_sign_in;
    POST "/api/auth/mfa/step-up/" => handlers::mfa::step_up;
    POST "/api/auth/mfa/step-up/passkey/" => handlers::mfa::passkey_options_for_step_up;
    GET "/api/auth/passkeys/" => handlers::passkeys::list;
    PATCH "/api/auth/passkeys/{id}/" => handlers::passkeys::rename;
    DELETE "/api/auth/passkeys/{id}/" => handlers::passkeys::remove;
    POST "/api/auth/passkeys/register/begin/" => handlers::passkeys::begin_registration;
    POST "/api/auth/passkeys/register/finish/" => handlers::passkeys::finish_registration;
    POST "/api/auth/passkeys/sign-in/begin/" => handlers::passkeys::begin_sign_in;
    POST "/api/auth/passkeys/sign-in/finish/" => handlers::passkeys::finish_sign_in;
    GET "/api/schema/" => super::openapi::serve;
};

pub static USERS_ROUTES: &[Route] = routes! { Users:
    GET "/api/health/users/" => handlers::health::service;
    GET "/api/users/" => handlers::users::list;
    POST "/api/users/" => handlers::users::create;
    GET "/api/users/{id}/" => handlers::users::retrieve;
    PUT "/api/users/{id}/" => handlers::users::replace;
    PATCH "/api/users/{id}/" => handlers::users::partial_update;
    DELETE "/api/users/{id}/" => handlers::users::destroy;
    GET "/api/users/{id}/export/" => handlers::users::export;
    POST "/api/users/{id}/email/confirm/" => handlers::users::confirm_email_change;
    POST "/api/users/{id}/suspend/" => handlers::users::suspend;
    POST "/api/users/{id}/unsuspend/" => handlers::users::unsuspend;
    DELETE "/api/users/{id}/mfa/" => handlers::mfa::reset;
    GET "/api/security-policy/" => handlers::users::security_policy;
    PATCH "/api/security-policy/" => handlers::users::update_security_policy;
};

pub static PROFILES_ROUTES: &[Route] = routes! { Profiles:
    GET "/api/health/profiles/" => handlers::health::service;
    GET "/api/profiles/" => handlers::profiles::list_profiles;
    POST "/api/profiles/" => handlers::profiles::create_profile;
    GET "/api/profiles/{id}/" => handlers::profiles::get_profile;
    PUT "/api/profiles/{id}/" => handlers::profiles::update_profile;
    PATCH "/api/profiles/{id}/" => handlers::profiles::update_profile;
    DELETE "/api/profiles/{id}/" => handlers::users::destroy;
    GET "/api/professional-profiles/" => handlers::profiles::list_professional;
    POST "/api/professional-profiles/" => handlers::profiles::create_professional;
    GET "/api/professional-profiles/{id}/" => handlers::profiles::get_professional;
    PUT "/api/professional-profiles/{id}/" => handlers::profiles::update_professional;
    PATCH "/api/professional-profiles/{id}/" => handlers::profiles::update_professional;
    DELETE "/api/professional-profiles/{id}/" => handlers::profiles::delete_professional;
    POST "/api/professional-profiles/{id}/verify/" => handlers::profiles::verify_professional;
    GET "/api/settings/" => handlers::profiles::get_settings;
    PUT "/api/settings/" => handlers::profiles::update_settings;
    PATCH "/api/settings/" => handlers::profiles::update_settings;
};

pub static SOCIAL_ROUTES: &[Route] = routes! { Social:
    GET "/api/health/social/" => handlers::health::service;
    POST "/api/follows/" => handlers::social::create_follow;
    GET "/api/follows/" => handlers::social::list_follows;
    GET "/api/follows/{id}/" => handlers::social::get_follow;
    DELETE "/api/follows/{id}/" => handlers::social::delete_follow;
    POST "/api/follows/{id}/approve/" => handlers::social::approve_follow;
    POST "/api/follows/{id}/reject/" => handlers::social::reject_follow;
    POST "/api/blocks/" => handlers::social::create_block;
    GET "/api/blocks/" => handlers::social::list_blocks;
    DELETE "/api/blocks/{id}/" => handlers::social::delete_block;
    GET "/api/relationships/" => handlers::social::relationships;
};

pub static ACTIVITY_ROUTES: &[Route] = routes! { Activity:
    GET "/api/health/activity/" => handlers::health::service;
    GET "/api/sessions/" => handlers::activity::list_sessions;
    POST "/api/sessions/" => handlers::activity::create_session;
    DELETE "/api/sessions/" => handlers::activity::end_other_sessions;
    GET "/api/sessions/{id}/" => handlers::activity::get_session;
    DELETE "/api/sessions/{id}/" => handlers::activity::end_session;
    GET "/api/events/" => handlers::activity::list_events;
    POST "/api/events/" => handlers::activity::log_event;
    POST "/api/events/{id}/review/" => handlers::activity::review_event;
    GET "/api/tasks/runs/" => handlers::tasks::list_runs;
    GET "/api/reports/" => handlers::tasks::reports;
    GET "/api/notifications/" => handlers::notifications::list;
    POST "/api/notifications/read-all/" => handlers::notifications::read_all;
    POST "/api/notifications/{id}/read/" => handlers::notifications::mark_read;
};

pub static BADGES_ROUTES: &[Route] = routes! { Badges:
    GET "/api/health/badges/" => handlers::health::service;
    GET "/api/badges/" => handlers::badges::list;
    POST "/api/badges/" => handlers::badges::create;
    GET "/api/badges/leaderboard/" => handlers::badges::leaderboard;
    GET "/api/badges/analytics/" => handlers::badges::analytics;
    GET "/api/badges/{id}/" => handlers::badges::retrieve;
    PUT "/api/badges/{id}/" => handlers::badges::update;
    PATCH "/api/badges/{id}/" => handlers::badges::update;
    DELETE "/api/badges/{id}/" => handlers::badges::destroy;
    GET "/api/user-badges/" => handlers::badges::list_user_badges;
    POST "/api/user-badges/" => handlers::badges::award;
    GET "/api/user-badges/{id}/" => handlers::badges::retrieve_user_badge;
    PATCH "/api/user-badges/{id}/" => handlers::badges::update_user_badge;
    DELETE "/api/user-badges/{id}/" => handlers::badges::revoke;
    GET "/api/users/{id}/badge-progress/" => handlers::badge_progress::badge_progress;
};
