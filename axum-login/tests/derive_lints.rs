//! The code the derives generate is lint-clean: this crate denies the lints a strict app would,
//! and uses every derive form, generic ones included.
#![deny(
    warnings,
    unused,
    nonstandard_style,
    rust_2018_idioms,
    missing_docs,
    unreachable_pub,
    unused_qualifications,
    unused_results,
    trivial_casts,
    single_use_lifetimes,
    let_underscore_drop,
    missing_debug_implementations
)]

/// Types that derive every macro, as an app's would be.
pub mod model {
    use std::{borrow::Cow, collections::HashSet};

    use axum_login::{AuthUser, Permission, Role};
    use secrecy::SecretString;

    /// Roles, with a hierarchy.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Role)]
    pub enum Access {
        /// Everything.
        #[role(implies(Editor))]
        Admin,
        /// Writes.
        #[role(implies(Viewer))]
        Editor,
        /// Reads.
        #[role(rename = "read_only")]
        Viewer,
    }

    /// A role enum with one variant.
    #[derive(Debug, Role)]
    #[role(rename_all = "kebab-case")]
    pub enum Single {
        /// The only one.
        OnlyRole,
    }

    /// A role enum with no variants.
    #[derive(Debug, Role)]
    pub enum Empty {}

    /// Permissions.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Permission)]
    pub enum Perm {
        /// Read posts.
        PostsRead,
        /// Write posts.
        PostsWrite,
    }

    /// A user with every kind of field.
    #[derive(Clone, Debug, AuthUser)]
    pub struct User {
        /// Id.
        #[auth(id, column = "user_id")]
        pub id: i64,
        /// Login name.
        #[auth(username)]
        pub email: String,
        /// Hash.
        #[auth(password_hash)]
        pub password_hash: SecretString,
        /// Roles.
        #[auth(roles)]
        pub roles: HashSet<Access>,
        /// Permissions.
        #[auth(permissions)]
        pub permissions: Vec<Perm>,
        /// Not marked but with a column.
        #[auth(column = "shown_as")]
        pub display: String,
    }

    /// A generic user with a lifetime.
    #[derive(Clone, Debug, AuthUser)]
    pub struct Generic<'a, Id, R>
    where
        R: Copy,
    {
        /// Id.
        #[auth(id)]
        pub id: Id,
        /// Hash.
        #[auth(password_hash)]
        pub hash: Cow<'a, str>,
        /// Role.
        #[auth(role)]
        pub role: R,
        /// Named permissions.
        #[auth(permissions)]
        pub permissions: Vec<String>,
    }
}

use axum_login::{AuthUser, Role, authz::PermissionRef, authz::RoleRef};
use model::{Access, Empty, Generic, Perm, Single, User};

#[test]
fn generated_code_behaves() {
    let user = User {
        id: 1,
        email: "a@example.com".into(),
        password_hash: "hash".into(),
        roles: [Access::Editor].into(),
        permissions: vec![Perm::PostsRead],
        display: "A".into(),
    };
    assert_eq!(user.id(), 1);
    assert_eq!(user.session_auth_hash(), b"hash");
    assert!(user.has_role(RoleRef::new(&Access::Viewer)));
    assert!(!user.has_role(RoleRef::new(&Access::Admin)));
    assert!(user.has_permission(PermissionRef::new(&Perm::PostsRead)));
    assert!(!user.has_permission(PermissionRef::from_name("posts_write")));
    assert!(!format!("{user:?}").contains("hash\""));
    assert_eq!(
        (user.email.as_str(), user.display.as_str()),
        ("a@example.com", "A")
    );

    let generic: Generic<'static, String, Access> = Generic {
        id: "g".into(),
        hash: "h".into(),
        role: Access::Admin,
        permissions: vec!["posts.read".into()],
    };
    assert_eq!(generic.id(), "g");
    assert!(generic.has_role(RoleRef::new(&Access::Viewer)));
    assert!(generic.has_permission(PermissionRef::from_name("posts.read")));

    assert_eq!(Single::OnlyRole.as_str(), "only-role");
    assert!(Empty::ALL.is_empty());
    assert_eq!(Access::Viewer.to_string(), "read_only");
}
