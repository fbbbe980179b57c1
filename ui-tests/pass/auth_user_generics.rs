use std::borrow::Cow;

use axum_login::{AuthUser, Role, authz::RoleRef};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Role)]
enum Access {
    #[role(implies(Member))]
    Owner,
    Member,
}

/// Generic over the id, the role and a lifetime; usable as a user wherever the parameters are.
#[derive(Clone, Debug, AuthUser)]
struct User<'a, Id, R>
where
    R: Copy,
{
    #[auth(id)]
    id: Id,
    #[auth(username)]
    name: &'a str,
    #[auth(password_hash)]
    hash: Cow<'a, str>,
    #[auth(role)]
    role: R,
}

#[derive(Clone, AuthUser)]
struct Tagged<T: Clone + Send + Sync + 'static> {
    #[auth(id)]
    id: u64,
    #[auth(roles)]
    roles: Vec<T>,
}

fn id_of<U: AuthUser>(user: &U) -> U::Id {
    user.id()
}

fn main() {
    let user: User<'static, i64, Access> = User {
        id: 7,
        name: "ferris",
        hash: Cow::Borrowed("$argon2id$..."),
        role: Access::Owner,
    };
    assert_eq!(id_of(&user), 7);
    assert_eq!(user.session_auth_hash(), b"$argon2id$...");
    assert!(user.has_role(RoleRef::new(&Access::Member)));
    assert_eq!(user.name, "ferris");

    let tagged = Tagged {
        id: 1,
        roles: vec![Access::Member],
    };
    assert_eq!(tagged.id(), 1);
    assert!(tagged.session_auth_hash().is_empty());
    assert!(tagged.has_role(RoleRef::new(&Access::Member)));
    assert!(!tagged.has_role(RoleRef::new(&Access::Owner)));
    assert_eq!(Access::ALL.len(), 2);
}
