//! Who may see and do what: the one home of the service's access rules (`docs/access.md`
//! lists each with the function here that decides it).
//!
//! Every capability that depends on who asks takes an [`Actor`]: a signed-in account, or the
//! system itself (scheduled tasks, bus handlers, the command line), which may do anything.
//! The functions here are pure decisions over what the capability already read; a refusal is
//! [`Error::PermissionDenied`] (mapped to 403 once, in `http::response`), a 403 with a reason
//! of its own ([`Error::Forbidden`]) where the client needs to know which rule refused it, or
//! [`Error::NotFound`] where even the existence of the object is not the caller's to know.

use crate::accounts::UserRecord;
use crate::error::Error;
use crate::model::{Role, UserId};

/// The answer to a non-follower who asks for a private account's followers, following or
/// badges.
pub const PRIVATE_ACCOUNT: &str = "This account is private.";

/// Who acts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Actor {
    /// The service itself: scheduled tasks, bus handlers, the command line. Outranks everyone.
    System,
    /// A signed-in account and its role.
    User { id: UserId, role: Role },
}

impl Actor {
    pub fn of(user: &UserRecord) -> Actor {
        Actor::User {
            id: user.id,
            role: user.role,
        }
    }

    /// The account acting, `None` for the system.
    pub fn user_id(self) -> Option<UserId> {
        match self {
            Actor::System => None,
            Actor::User { id, .. } => Some(id),
        }
    }

    /// Whether the actor is the account `id`.
    pub fn is(self, id: UserId) -> bool {
        self.user_id() == Some(id)
    }

    /// Administrators (admin, owner) and the system.
    pub fn is_admin(self) -> bool {
        match self {
            Actor::System => true,
            Actor::User { role, .. } => role.is_admin(),
        }
    }

    /// Staff (moderators and administrators) and the system.
    pub fn is_staff(self) -> bool {
        match self {
            Actor::System => true,
            Actor::User { role, .. } => role.is_staff(),
        }
    }

    /// How much authority the actor carries over accounts ([`rank`]); the system the most.
    pub fn rank(self) -> u8 {
        match self {
            Actor::System => u8::MAX,
            Actor::User { role, .. } => rank(role),
        }
    }
}

/// How much authority a role carries over accounts: an actor acts on accounts of lower rank
/// only (themselves aside).
pub fn rank(role: Role) -> u8 {
    match role {
        Role::Owner => 3,
        Role::Admin => 2,
        Role::Moderator => 1,
        Role::Normal | Role::DataProvider | Role::Professional => 0,
    }
}

/// Proof that a staff member (or the system) acts: what the staff-only capabilities take, so
/// that none can be called without [`require_staff`] having decided.
#[derive(Clone, Copy, Debug)]
pub struct Staff(Actor);

impl Staff {
    pub const SYSTEM: Staff = Staff(Actor::System);

    pub fn actor(self) -> Actor {
        self.0
    }
}

/// Proof that an administrator (or the system) acts: what the administrator-only capabilities
/// take (badge definitions, awards, analytics, task runs and reports).
#[derive(Clone, Copy, Debug)]
pub struct Admin(Actor);

impl Admin {
    pub const SYSTEM: Admin = Admin(Actor::System);

    pub fn actor(self) -> Actor {
        self.0
    }
}

/// Staff only (moderators, administrators, the system): suspensions, the event review queue,
/// other users' events.
pub fn require_staff(actor: Actor) -> Result<Staff, Error> {
    if actor.is_staff() {
        Ok(Staff(actor))
    } else {
        Err(Error::PermissionDenied)
    }
}

/// Administrators only (admin, owner, the system): badge definitions, awards and revokes,
/// analytics, task runs and reports, creating accounts, other users' sessions.
pub fn require_admin(actor: Actor) -> Result<Admin, Error> {
    if actor.is_admin() {
        Ok(Admin(actor))
    } else {
        Err(Error::PermissionDenied)
    }
}

/// The account itself or an administrator: writing a profile, a professional profile, or
/// creating another user's profile.
pub fn require_self_or_admin(actor: Actor, target: UserId) -> Result<(), Error> {
    if actor.is(target) || actor.is_admin() {
        Ok(())
    } else {
        Err(Error::PermissionDenied)
    }
}

/// An account's private records (its user record through the users API, its sessions, its
/// data export): the account itself and administrators; to anyone else they do not exist
/// (404), so that ids cannot be probed.
pub fn require_own_or_admin(actor: Actor, target: UserId) -> Result<(), Error> {
    if actor.is(target) || actor.is_admin() {
        Ok(())
    } else {
        Err(Error::NotFound)
    }
}

/// The role a caller may hand out: administrators any but `owner`, which only an owner grants.
fn may_grant(actor: Actor, role: Role) -> Result<(), Error> {
    if !actor.is_admin() {
        return Err(Error::Forbidden(
            "Only administrators can change roles.".into(),
        ));
    }
    if rank(role) > actor.rank() {
        return Err(Error::Forbidden(format!(
            "Only an owner can grant the role {}.",
            role.as_str()
        )));
    }
    Ok(())
}

/// The role `actor` may give an account they create: [`may_change_role`]'s grant rule.
pub fn may_create_with_role(actor: Actor, role: Role) -> Result<(), Error> {
    may_grant(actor, role)
}

/// Whether `actor` may give `target` the role `role`: the one rule set of every role change
/// (the users API, the profile API, the command line as [`Actor::System`]). Keeping the
/// current role decides nothing. Otherwise only administrators change roles, nobody their
/// own, never on an account that outranks theirs, and only an owner grants the owner role;
/// each refusal is a 403. The change is then logged as a `role_change`.
pub fn may_change_role(actor: Actor, target: &UserRecord, role: Role) -> Result<(), Error> {
    if target.role == role {
        return Ok(());
    }
    if actor.is_admin() {
        if actor.is(target.id) {
            return Err(Error::Forbidden("You cannot change your own role.".into()));
        }
        if rank(target.role) > actor.rank() {
            return Err(Error::Forbidden(
                "You cannot change an account that outranks yours.".into(),
            ));
        }
    }
    may_grant(actor, role)
}

/// What stands between a viewer and an account, as the capability read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Relationship {
    /// Either blocks the other.
    pub blocked: bool,
    /// The viewer actively follows the account (a pending request is not a follow).
    pub follows: bool,
}

/// How much of an account a viewer sees.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Visibility {
    /// Every field: the account itself, and staff.
    Full,
    /// The public view (contact and location as the `show_*` flags allow), and the account's
    /// followers, following and badges.
    Public,
    /// The public card only (names, picture, counts); the lists and badges are refused.
    Card,
    /// Nothing, not even that the account exists.
    NotFound,
}

/// The one answer to "how much of `owner` does `viewer` see", used by the profile read, the
/// profile and user lists, the follower and following lists and the badges of a user:
///
/// - no such account, or one being erased: `NotFound`;
/// - the account itself, and staff (moderators, administrators, the system): `Full`;
/// - a block either way: `NotFound`;
/// - a suspended account: `Card`;
/// - a private account the viewer does not actively follow: `Card`;
/// - anything else (a public account, a private one the viewer follows): `Public`.
pub fn profile_visibility(
    viewer: Actor,
    owner: Option<&UserRecord>,
    relationship: Relationship,
) -> Visibility {
    let Some(owner) = owner.filter(|o| !o.deleting) else {
        return Visibility::NotFound;
    };
    if viewer.is(owner.id) || viewer.is_staff() {
        return Visibility::Full;
    }
    if relationship.blocked {
        return Visibility::NotFound;
    }
    if owner.is_suspended || (owner.is_private && !relationship.follows) {
        return Visibility::Card;
    }
    Visibility::Public
}

/// Whether a viewer who sees `owner` as `visibility` may read the account's followers,
/// following and badges: `Full` and `Public` may; a suspended account's are not found; a
/// private account's are refused with [`PRIVATE_ACCOUNT`] (403), as Mastodon refuses a locked
/// account's posts to non-followers while its profile stays visible.
pub fn require_connections_visible(
    visibility: Visibility,
    owner: &UserRecord,
) -> Result<(), Error> {
    match visibility {
        Visibility::Full | Visibility::Public => Ok(()),
        Visibility::Card if !owner.is_suspended => Err(Error::Forbidden(PRIVATE_ACCOUNT.into())),
        Visibility::Card | Visibility::NotFound => Err(Error::NotFound),
    }
}

/// The 403 detail for a suspended account.
pub fn suspended_detail(user: &UserRecord) -> String {
    let reason = user.suspension_reason.trim();
    if reason.is_empty() {
        "Account suspended.".to_owned()
    } else {
        format!("Account suspended: {reason}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: i64, role: Role) -> UserRecord {
        let mut u = UserRecord::new(
            UserId(id),
            format!("user{id}"),
            format!("user{id}@example.com"),
            chrono::Utc::now(),
        );
        u.role = role;
        u
    }

    fn actor(id: i64, role: Role) -> Actor {
        Actor::User {
            id: UserId(id),
            role,
        }
    }

    #[test]
    fn visibility_answers() {
        let mut owner = user(1, Role::Normal);
        owner.is_private = true;
        let none = Relationship::default();
        let follows = Relationship {
            follows: true,
            ..none
        };
        let blocked = Relationship {
            blocked: true,
            follows: true,
        };
        let other = actor(2, Role::Normal);
        let v = |viewer, rel| profile_visibility(viewer, Some(&owner), rel);
        assert_eq!(v(actor(1, Role::Normal), none), Visibility::Full);
        assert_eq!(v(actor(3, Role::Moderator), blocked), Visibility::Full);
        assert_eq!(v(Actor::System, none), Visibility::Full);
        assert_eq!(v(other, none), Visibility::Card);
        assert_eq!(v(other, follows), Visibility::Public);
        assert_eq!(v(other, blocked), Visibility::NotFound);
        assert_eq!(profile_visibility(other, None, none), Visibility::NotFound);
        owner.is_private = false;
        owner.is_suspended = true;
        assert_eq!(
            profile_visibility(other, Some(&owner), follows),
            Visibility::Card
        );
        assert!(matches!(
            require_connections_visible(Visibility::Card, &owner),
            Err(Error::NotFound)
        ));
        owner.is_suspended = false;
        owner.is_private = true;
        assert!(matches!(
            require_connections_visible(Visibility::Card, &owner),
            Err(Error::Forbidden(m)) if m == PRIVATE_ACCOUNT
        ));
        owner.deleting = true;
        assert_eq!(
            profile_visibility(actor(9, Role::Admin), Some(&owner), none),
            Visibility::NotFound
        );
    }

    #[test]
    fn role_changes() {
        let normal = user(1, Role::Normal);
        let admin = user(2, Role::Admin);
        let owner = user(3, Role::Owner);
        let a = Actor::of(&admin);
        assert!(may_change_role(a, &normal, Role::Normal).is_ok());
        assert!(may_change_role(a, &normal, Role::Moderator).is_ok());
        assert!(may_change_role(a, &normal, Role::Owner).is_err());
        assert!(may_change_role(a, &admin, Role::Normal).is_err());
        assert!(may_change_role(a, &owner, Role::Normal).is_err());
        assert!(may_change_role(Actor::of(&normal), &admin, Role::Normal).is_err());
        assert!(may_change_role(Actor::of(&owner), &normal, Role::Owner).is_ok());
        assert!(may_change_role(Actor::System, &owner, Role::Normal).is_ok());
    }

    #[test]
    fn staff_and_admin() {
        assert!(require_staff(actor(1, Role::Moderator)).is_ok());
        assert!(matches!(
            require_admin(actor(1, Role::Moderator)),
            Err(Error::PermissionDenied)
        ));
        assert!(require_admin(Actor::System).is_ok());
        assert!(matches!(
            require_staff(actor(1, Role::Professional)),
            Err(Error::PermissionDenied)
        ));
        assert!(require_self_or_admin(actor(1, Role::Normal), UserId(1)).is_ok());
        assert!(require_self_or_admin(actor(1, Role::Normal), UserId(2)).is_err());
    }
}
