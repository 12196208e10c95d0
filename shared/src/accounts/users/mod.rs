//! The users capability: listing and searching accounts, administrators creating them, the
//! owner or an administrator changing identity fields, suspension, roles, and erasure.
//!
//! Rules:
//! - The list reads the GSI1 username index (`USERNAME` / lower-case username): a search is a
//!   `begins_with` on it, never a scan. `role`, `is_verified` (and, for non-administrators,
//!   "verified, not suspended") are query filters, applied after the page's limit as DynamoDB
//!   does: a filtered page can hold fewer users than asked for, even none, and still have a next
//!   page.
//! - A username or email change is one transaction: the profile update (conditioned on the
//!   values it replaces), the old unique item deleted conditioned on being this user's, the new
//!   one put conditioned on being absent. A changed email is unverified and gets a new code.
//! - Erasure runs in bounded steps, each idempotent, ordered so that a crash leaves an account
//!   that is marked `deleting` (it cannot log in, is listed nowhere) and a retry finishes:
//!   mark + credentials, sessions, API tokens, social edges, the rest of the partition (codes,
//!   login failures, settings, professional profile, badges), events anonymised, and last the
//!   unique items with the profile in one transaction.

mod create;
mod erasure;
mod list;
mod moderation;
mod update;

pub use crate::access::{Actor, may_change_role};
pub use create::{CreateUserInput, create_user};
pub use erasure::{erase_user, erase_user_as};
pub use list::{DEFAULT_PAGE_SIZE, ListFilter, UserPage, get_user_for, list_users};
pub use moderation::{REASON_MAX_CHARS, set_role, set_suspension};
pub use update::{UpdateUserInput, Updated, update_user};
