//! [`LdapConfig`]: where the directory is, how a user is found and checked, how groups become
//! roles and permissions, and the bounds on every network step.

use std::{any::TypeId, fmt, sync::Arc, time::Duration};

use rustls::{
    ClientConfig, RootCertStore,
    pki_types::{CertificateDer, pem::PemObject},
};
use secrecy::SecretString;

use super::escape::{fill, normalize_dn};
use crate::Role;

/// The default for [`LdapConfigBuilder::connect_timeout`].
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// The default for [`LdapConfigBuilder::operation_timeout`].
pub const DEFAULT_OPERATION_TIMEOUT: Duration = Duration::from_secs(2);
/// The default for [`LdapConfigBuilder::pool_size`].
pub const DEFAULT_POOL_SIZE: usize = 4;

/// How an [`LdapStore`](super::LdapStore) reaches the directory and reads users from it.
///
/// Built with [`LdapConfig::builder`]; see the [module documentation](super) for what each
/// choice does.
#[derive(Clone)]
pub struct LdapConfig {
    pub(super) url: String,
    /// The host and port from the URL, to open the TCP connection.
    pub(super) address: (String, u16),
    pub(super) starttls: bool,
    pub(super) tls: Option<Arc<ClientConfig>>,
    pub(super) service_account: Option<(String, SecretString)>,
    pub(super) lookup: UserLookup,
    pub(super) id_attribute: String,
    pub(super) attributes: Vec<String>,
    pub(super) groups: Option<GroupSource>,
    pub(super) grants: Vec<GroupGrant>,
    pub(super) stamp_attributes: Vec<String>,
    pub(super) connect_timeout: Duration,
    pub(super) operation_timeout: Duration,
    pub(super) pool_size: usize,
}

impl fmt::Debug for LdapConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConfig")
            .field("url", &self.url)
            .field("starttls", &self.starttls)
            .field("tls", &self.tls.is_some())
            .field(
                "service_account",
                &self.service_account.as_ref().map(|(dn, _)| dn),
            )
            .field("lookup", &self.lookup)
            .field("id_attribute", &self.id_attribute)
            .field("attributes", &self.attributes)
            .field("groups", &self.groups)
            .field("grants", &self.grants)
            .field("stamp_attributes", &self.stamp_attributes)
            .field("connect_timeout", &self.connect_timeout)
            .field("operation_timeout", &self.operation_timeout)
            .field("pool_size", &self.pool_size)
            .finish()
    }
}

/// How a login name becomes an entry.
#[derive(Clone, Debug)]
pub(super) enum UserLookup {
    /// Search-then-bind: find the entry with `filter` under `base`, then bind as its DN.
    Search {
        base: String,
        filter: String,
        /// The filter that finds a user by id, for `load_user`.
        id_filter: String,
    },
    /// Bind directly as the DN that the template makes of the login name.
    DnTemplate { template: String },
}

/// Where a user's groups come from.
#[derive(Clone, Debug)]
pub(super) enum GroupSource {
    /// The values of an attribute of the user's entry (`memberOf`).
    Attribute(String),
    /// The DNs of the entries that a search finds (`(member={dn})`).
    Search { base: String, filter: String },
}

/// What membership of a group grants.
#[derive(Clone, Debug)]
pub(super) struct GroupGrant {
    /// The group, as [`normalize_dn`] leaves it.
    pub(super) group: String,
    pub(super) grant: Grant,
}

#[derive(Clone, Debug)]
pub(super) enum Grant {
    /// A role, by name, of the `Role` enum whose type id this is.
    Role {
        name: &'static str,
        enum_type: TypeId,
    },
    Permission(String),
}

impl LdapConfig {
    /// Starts a configuration for the directory at `url`: `ldap://host[:port]` (StartTLS with
    /// [`starttls`](LdapConfigBuilder::starttls)) or `ldaps://host[:port]`.
    pub fn builder(url: impl Into<String>) -> LdapConfigBuilder {
        LdapConfigBuilder {
            url: url.into(),
            starttls: false,
            ca_pems: Vec::new(),
            service_account: None,
            user_search: None,
            id_filter: None,
            dn_template: None,
            id_attribute: "uid".to_owned(),
            attributes: Vec::new(),
            groups: None,
            grants: Vec::new(),
            stamp_attributes: vec!["modifyTimestamp".to_owned(), "entryCSN".to_owned()],
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            operation_timeout: DEFAULT_OPERATION_TIMEOUT,
            pool_size: DEFAULT_POOL_SIZE,
        }
    }

    /// The directory's URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The connect timeout ([`LdapConfigBuilder::connect_timeout`]).
    pub fn connect_timeout(&self) -> Duration {
        self.connect_timeout
    }

    /// The timeout of each operation ([`LdapConfigBuilder::operation_timeout`]).
    pub fn operation_timeout(&self) -> Duration {
        self.operation_timeout
    }

    /// Every attribute a user search asks for: the id, the session stamp, the group attribute
    /// and the app's own.
    pub(super) fn requested_attributes(&self) -> Vec<String> {
        let mut attributes = vec![self.id_attribute.clone()];
        let group = match &self.groups {
            Some(GroupSource::Attribute(attribute)) => Some(attribute),
            _ => None,
        };
        for attribute in self
            .stamp_attributes
            .iter()
            .chain(group)
            .chain(&self.attributes)
        {
            if !attributes
                .iter()
                .any(|known| known.eq_ignore_ascii_case(attribute))
            {
                attributes.push(attribute.clone());
            }
        }
        attributes
    }
}

/// Builds an [`LdapConfig`]; [`build`](Self::build) checks it.
#[derive(Clone)]
#[must_use = "a builder does nothing until `build` is called"]
pub struct LdapConfigBuilder {
    url: String,
    starttls: bool,
    ca_pems: Vec<Vec<u8>>,
    service_account: Option<(String, SecretString)>,
    user_search: Option<(String, String)>,
    id_filter: Option<String>,
    dn_template: Option<String>,
    id_attribute: String,
    attributes: Vec<String>,
    groups: Option<GroupSource>,
    grants: Vec<GroupGrant>,
    stamp_attributes: Vec<String>,
    connect_timeout: Duration,
    operation_timeout: Duration,
    pool_size: usize,
}

impl fmt::Debug for LdapConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LdapConfigBuilder")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl LdapConfigBuilder {
    /// The service account that the store binds its pooled connections as, for every search:
    /// finding the entry of a login name, loading a logged-in user, groups. It needs read
    /// access to the users' entries (and the groups), never to their passwords.
    ///
    /// Without one the searches are anonymous, which few directories allow.
    pub fn service_account(
        mut self,
        dn: impl Into<String>,
        password: impl Into<SecretString>,
    ) -> Self {
        self.service_account = Some((dn.into(), password.into()));
        self
    }

    /// Search-then-bind: a login name is looked up with `filter` (a template in which `{}`
    /// stands for the escaped login name, e.g. `(&(objectClass=inetOrgPerson)(uid={}))`) in the
    /// subtree under `base`, then the password is checked by binding as the entry found.
    pub fn user_search(mut self, base: impl Into<String>, filter: impl Into<String>) -> Self {
        self.user_search = Some((base.into(), filter.into()));
        self
    }

    /// With [`user_search`](Self::user_search): the filter (`{}` is the escaped id) that finds a
    /// logged-in user by id on later requests. Default: the login filter, which is right when
    /// users log in with the attribute that is their id
    /// ([`id_attribute`](Self::id_attribute)); set it when they log in with another, e.g.
    /// their mail address.
    pub fn id_filter(mut self, filter: impl Into<String>) -> Self {
        self.id_filter = Some(filter.into());
        self
    }

    /// Bind directly as a DN made from a template, in which `{}` stands for the DN-escaped
    /// login name: `uid={},ou=people,dc=example,dc=test`. No search before the bind; the entry
    /// is read after a successful bind (as the service account, if any). The id of a user is
    /// the value the template is filled with, so the template's RDN attribute should be the
    /// [`id_attribute`](Self::id_attribute).
    pub fn user_dn_template(mut self, template: impl Into<String>) -> Self {
        self.dn_template = Some(template.into());
        self
    }

    /// The attribute whose value is a user's id, kept in the session. Default: `uid`.
    pub fn id_attribute(mut self, attribute: impl Into<String>) -> Self {
        self.id_attribute = attribute.into();
        self
    }

    /// More attributes to read from a user's entry (`cn`, `mail`, ...), for
    /// [`LdapEntry::attribute`](super::LdapEntry::attribute).
    pub fn attributes<I, S>(mut self, attributes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.attributes
            .extend(attributes.into_iter().map(Into::into));
        self
    }

    /// A user's groups are the values of this attribute of their entry, e.g. `memberOf`
    /// (OpenLDAP's memberof overlay, Active Directory, 389 Directory Server).
    pub fn group_attribute(mut self, attribute: impl Into<String>) -> Self {
        self.groups = Some(GroupSource::Attribute(attribute.into()));
        self
    }

    /// A user's groups are the DNs of the entries that `filter` finds in the subtree under
    /// `base`; in the filter, `{dn}` stands for the escaped DN of the user's entry and `{uid}`
    /// for their escaped id: `(&(objectClass=groupOfNames)(member={dn}))`, or
    /// `(&(objectClass=posixGroup)(memberUid={uid}))`. One more search per login and per load.
    pub fn group_search(mut self, base: impl Into<String>, filter: impl Into<String>) -> Self {
        self.groups = Some(GroupSource::Search {
            base: base.into(),
            filter: filter.into(),
        });
        self
    }

    /// Members of `group` (its DN, or the attribute value that names it) hold `role`. The DN is
    /// compared ignoring ASCII case and the spaces around `,`, `=` and `+`.
    pub fn group_role<R: Role>(mut self, group: impl AsRef<str>, role: R) -> Self {
        self.grants.push(GroupGrant {
            group: normalize_dn(group.as_ref()),
            grant: Grant::Role {
                name: role.as_str(),
                enum_type: TypeId::of::<R>(),
            },
        });
        self
    }

    /// Members of `group` hold the permission named `permission` (a string, or a `Permission`
    /// enum's [`as_str`](crate::Permission::as_str)).
    pub fn group_permission(
        mut self,
        group: impl AsRef<str>,
        permission: impl Into<String>,
    ) -> Self {
        self.grants.push(GroupGrant {
            group: normalize_dn(group.as_ref()),
            grant: Grant::Permission(permission.into()),
        });
        self
    }

    /// The attributes whose values change when the password changes, from which
    /// [`AuthUser::session_auth_hash`](crate::AuthUser::session_auth_hash) is made (with the
    /// entry's DN), so a password change in the directory ends the user's sessions on their
    /// next request. Every listed attribute that the entry has counts; an entry with none of
    /// them is an error, not a session that never ends.
    ///
    /// Default: `modifyTimestamp` (kept by every common directory, in whole seconds, so two
    /// changes within one second look alike) and `entryCSN` (OpenLDAP: microseconds and a
    /// counter). Both change with any change to the entry itself, not with a change to a group
    /// it is in. Narrower: `pwdChangedTime` (OpenLDAP's ppolicy), `pwdLastSet` (Active
    /// Directory), which change with the password only.
    pub fn session_stamp_attributes<I, S>(mut self, attributes: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.stamp_attributes = attributes.into_iter().map(Into::into).collect();
        self
    }

    /// Upgrade `ldap://` connections with StartTLS before anything is sent. Default: off.
    pub fn starttls(mut self, starttls: bool) -> Self {
        self.starttls = starttls;
        self
    }

    /// Trust the CA certificate(s) in this PEM text for `ldaps://` and StartTLS, instead of the
    /// system's trusted roots; may be called several times. For a directory with a private CA.
    pub fn tls_ca_pem(mut self, pem: impl AsRef<[u8]>) -> Self {
        self.ca_pems.push(pem.as_ref().to_vec());
        self
    }

    /// How long opening a connection may take: TCP, then TLS or StartTLS. Default: 2 s.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long each operation (a bind, a search) may take. Default: 2 s. A directory that does
    /// not answer makes the store call fail after this long (or the connect timeout), which the
    /// layer answers with a `500`.
    pub fn operation_timeout(mut self, timeout: Duration) -> Self {
        self.operation_timeout = timeout;
        self
    }

    /// How many connections bound as the service account the store keeps open for searches.
    /// Default: 4. A user's bind always runs on a connection of its own.
    pub fn pool_size(mut self, size: usize) -> Self {
        self.pool_size = size;
        self
    }

    /// Checks the configuration: the URL, the templates and filters (each must parse), the TLS
    /// certificates, the timeouts and the pool size.
    pub fn build(self) -> Result<LdapConfig, LdapConfigError> {
        let (address, tls_wanted) = check_url(&self.url, self.starttls)?;
        let lookup = match (self.user_search, self.dn_template) {
            (Some(_), Some(_)) => return Err(LdapConfigError::TwoLookups),
            (None, None) => return Err(LdapConfigError::NoLookup),
            (Some((base, filter)), None) => {
                check_filter("user_search", &filter, &["{}"])?;
                let id_filter = match self.id_filter {
                    Some(id_filter) => {
                        check_filter("id_filter", &id_filter, &["{}"])?;
                        id_filter
                    }
                    None => filter.clone(),
                };
                UserLookup::Search {
                    base,
                    filter,
                    id_filter,
                }
            }
            (None, Some(template)) => {
                if !template.contains("{}") || !template.contains('=') {
                    return Err(LdapConfigError::Template {
                        setting: "user_dn_template",
                        template,
                        problem: "it must be a DN with `{}` where the login name goes, such as `uid={},ou=people,dc=example,dc=test`",
                    });
                }
                UserLookup::DnTemplate { template }
            }
        };
        if let Some(GroupSource::Search { filter, .. }) = &self.groups {
            check_filter("group_search", filter, &["{dn}", "{uid}"])?;
        }
        if self.id_attribute.trim().is_empty() {
            return Err(LdapConfigError::EmptyAttribute {
                setting: "id_attribute",
            });
        }
        if self.stamp_attributes.is_empty()
            || self.stamp_attributes.iter().any(|a| a.trim().is_empty())
        {
            return Err(LdapConfigError::EmptyAttribute {
                setting: "session_stamp_attributes",
            });
        }
        if self.connect_timeout.is_zero() || self.operation_timeout.is_zero() {
            return Err(LdapConfigError::ZeroTimeout);
        }
        if self.pool_size == 0 {
            return Err(LdapConfigError::ZeroPool);
        }
        let tls = if tls_wanted {
            Some(tls_config(&self.ca_pems)?)
        } else {
            None
        };
        Ok(LdapConfig {
            url: self.url,
            address,
            starttls: self.starttls,
            tls,
            service_account: self.service_account,
            lookup,
            id_attribute: self.id_attribute,
            attributes: self.attributes,
            groups: self.groups,
            grants: self.grants,
            stamp_attributes: self.stamp_attributes,
            connect_timeout: self.connect_timeout,
            operation_timeout: self.operation_timeout,
            pool_size: self.pool_size,
        })
    }
}

/// Why an [`LdapConfig`] was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LdapConfigError {
    /// The URL is not `ldap://host[:port]` or `ldaps://host[:port]`.
    #[error("LDAP URL {url:?}: {problem}")]
    Url {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        problem: String,
    },
    /// Neither `user_search` nor `user_dn_template` was set.
    #[error(
        "no way to find a user: call `user_search(base, filter)` (search-then-bind) or `user_dn_template(template)` (direct bind)"
    )]
    NoLookup,
    /// Both `user_search` and `user_dn_template` were set.
    #[error("`user_search` and `user_dn_template` are both set; keep one")]
    TwoLookups,
    /// A search filter is not a filter, or lacks its placeholder.
    #[error("`{setting}` filter {filter:?}: {problem}")]
    Filter {
        /// The builder method it was given to.
        setting: &'static str,
        /// The filter template.
        filter: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The DN template lacks `{}` or is not a DN.
    #[error("`{setting}` {template:?}: {problem}")]
    Template {
        /// The builder method it was given to.
        setting: &'static str,
        /// The template.
        template: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// An attribute name is empty, or no attribute is given.
    #[error("`{setting}` needs a non-empty attribute name")]
    EmptyAttribute {
        /// The builder method it was given to.
        setting: &'static str,
    },
    /// A timeout is zero.
    #[error("the connect and operation timeouts must be longer than zero")]
    ZeroTimeout,
    /// The pool size is zero.
    #[error("the pool size must be at least 1")]
    ZeroPool,
    /// The TLS setup failed: a CA PEM without a certificate, or no trusted root at all.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Checks the URL; answers the host and port, and whether the connection needs TLS.
fn check_url(text: &str, starttls: bool) -> Result<((String, u16), bool), LdapConfigError> {
    let error = |problem: &str| LdapConfigError::Url {
        url: text.to_owned(),
        problem: problem.to_owned(),
    };
    let url = url::Url::parse(text).map_err(|e| error(&e.to_string()))?;
    let ldaps = match url.scheme() {
        "ldap" => false,
        "ldaps" => true,
        _ => return Err(error("the scheme must be `ldap` or `ldaps`")),
    };
    let host = match url.host() {
        Some(url::Host::Domain(name)) if !name.is_empty() => name.to_owned(),
        Some(url::Host::Ipv4(ip)) => ip.to_string(),
        Some(url::Host::Ipv6(ip)) => ip.to_string(),
        _ => return Err(error("it names no host")),
    };
    let port = url.port().unwrap_or(if ldaps { 636 } else { 389 });
    if !matches!(url.path(), "" | "/") || url.query().is_some() || url.fragment().is_some() {
        return Err(error(
            "only `scheme://host[:port]` is used; give the search base with `user_search`",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(error(
            "credentials do not belong in the URL; use `service_account`",
        ));
    }
    if ldaps && starttls {
        return Err(error(
            "StartTLS upgrades a plain `ldap://` connection; an `ldaps://` one is TLS already",
        ));
    }
    Ok(((host, port), ldaps || starttls))
}

/// Checks that a filter template has one of its placeholders and parses once filled.
fn check_filter(
    setting: &'static str,
    filter: &str,
    placeholders: &[&str],
) -> Result<(), LdapConfigError> {
    let error = |problem: String| LdapConfigError::Filter {
        setting,
        filter: filter.to_owned(),
        problem,
    };
    if !placeholders.iter().any(|p| filter.contains(p)) {
        return Err(error(format!(
            "it must contain {} where the value goes",
            placeholders
                .iter()
                .map(|p| format!("`{p}`"))
                .collect::<Vec<_>>()
                .join(" or ")
        )));
    }
    let sample: Vec<(&str, &str)> = placeholders.iter().map(|p| (*p, "x")).collect();
    ldap3::parse_filter(fill(filter, &sample))
        .map(|_| ())
        .map_err(|_| error("it is not an LDAP filter (RFC 4515), e.g. `(uid={})`".to_owned()))
}

/// A rustls client configuration with the ring provider, trusting `ca_pems` or, when there are
/// none, the system's roots.
fn tls_config(ca_pems: &[Vec<u8>]) -> Result<Arc<ClientConfig>, LdapConfigError> {
    let mut roots = RootCertStore::empty();
    if ca_pems.is_empty() {
        let native = rustls_native_certs::load_native_certs();
        let (added, _) = roots.add_parsable_certificates(native.certs);
        if added == 0 {
            return Err(LdapConfigError::Tls(
                "no trusted root certificates on this system; give the directory's CA with `tls_ca_pem`"
                    .to_owned(),
            ));
        }
    } else {
        for pem in ca_pems {
            let mut found = 0;
            for cert in CertificateDer::pem_slice_iter(pem) {
                let cert = cert.map_err(|e| {
                    LdapConfigError::Tls(format!("a CA certificate does not parse: {e}"))
                })?;
                roots.add(cert).map_err(|e| {
                    LdapConfigError::Tls(format!("a CA certificate is not usable: {e}"))
                })?;
                found += 1;
            }
            if found == 0 {
                return Err(LdapConfigError::Tls(
                    "`tls_ca_pem` was given no `-----BEGIN CERTIFICATE-----` block".to_owned(),
                ));
            }
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LdapConfigError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A self-signed CA certificate, for configurations that need TLS.
    const TEST_CA: &str = include_str!("testdata/ca.pem");

    fn base() -> LdapConfigBuilder {
        LdapConfig::builder("ldap://127.0.0.1:3890")
            .user_search("ou=people,dc=example,dc=test", "(uid={})")
    }

    #[test]
    fn a_minimal_configuration_builds() {
        let config = base().build().expect("builds");
        assert_eq!(config.url(), "ldap://127.0.0.1:3890");
        assert_eq!(config.address, ("127.0.0.1".to_owned(), 3890));
        assert_eq!(config.operation_timeout(), DEFAULT_OPERATION_TIMEOUT);
        assert!(config.tls.is_none());
        assert_eq!(
            config.requested_attributes(),
            ["uid", "modifyTimestamp", "entryCSN"].map(String::from)
        );
    }

    #[test]
    fn ports_default_by_scheme() {
        for (url, address) in [
            ("ldap://ldap.example.test", ("ldap.example.test", 389)),
            ("ldaps://ldap.example.test/", ("ldap.example.test", 636)),
            ("ldap://[::1]:3890", ("::1", 3890)),
        ] {
            let config = LdapConfig::builder(url)
                .user_search("dc=x", "(uid={})")
                .tls_ca_pem(TEST_CA)
                .build()
                .expect("builds");
            assert_eq!(config.address, (address.0.to_owned(), address.1), "{url}");
        }
    }

    #[test]
    fn urls_are_checked() {
        for (url, starttls) in [
            ("http://127.0.0.1", false),
            ("ldap://", false),
            ("ldap:///", false),
            ("ldap://host/dc=example", false),
            ("ldap://user:pw@host", false),
            ("ldaps://host", true),
            ("not a url", false),
        ] {
            let result = LdapConfig::builder(url)
                .starttls(starttls)
                .user_search("dc=x", "(uid={})")
                .build();
            assert!(
                matches!(result, Err(LdapConfigError::Url { .. })),
                "{url}: {result:?}"
            );
        }
    }

    #[test]
    fn lookups_and_filters_are_checked() {
        let no_lookup = LdapConfig::builder("ldap://h").build();
        assert!(matches!(no_lookup, Err(LdapConfigError::NoLookup)));
        let two = base().user_dn_template("uid={},dc=x").build();
        assert!(matches!(two, Err(LdapConfigError::TwoLookups)));
        for filter in ["(uid=ferris)", "(uid={}", "uid={})("] {
            let result = LdapConfig::builder("ldap://h")
                .user_search("dc=x", filter)
                .build();
            assert!(
                matches!(result, Err(LdapConfigError::Filter { .. })),
                "{filter}: {result:?}"
            );
        }
        let template = LdapConfig::builder("ldap://h")
            .user_dn_template("ou=people")
            .build();
        assert!(matches!(template, Err(LdapConfigError::Template { .. })));
        let groups = base().group_search("dc=x", "(member=x)").build();
        assert!(matches!(groups, Err(LdapConfigError::Filter { .. })));
        let groups = base()
            .group_search("dc=x", "(|(member={dn})(memberUid={uid}))")
            .build();
        assert!(groups.is_ok(), "{groups:?}");
    }

    #[test]
    fn limits_and_attributes_are_checked() {
        assert!(matches!(
            base().operation_timeout(Duration::ZERO).build(),
            Err(LdapConfigError::ZeroTimeout)
        ));
        assert!(matches!(
            base().pool_size(0).build(),
            Err(LdapConfigError::ZeroPool)
        ));
        assert!(matches!(
            base().session_stamp_attributes([" "]).build(),
            Err(LdapConfigError::EmptyAttribute { .. })
        ));
    }

    #[test]
    fn tls_needs_a_certificate_that_parses() {
        let result = LdapConfig::builder("ldaps://h")
            .user_search("dc=x", "(uid={})")
            .tls_ca_pem("not a certificate")
            .build();
        assert!(matches!(result, Err(LdapConfigError::Tls(_))), "{result:?}");
    }

    #[test]
    fn the_password_is_not_printed() {
        let builder = base().service_account("cn=service,dc=x", "hunter42");
        let config = builder.clone().build().expect("builds");
        assert!(!format!("{config:?}").contains("hunter42"));
        assert!(!format!("{builder:?}").contains("hunter42"));
        assert!(format!("{config:?}").contains("cn=service,dc=x"));
    }

    #[test]
    fn requested_attributes_are_listed_once() {
        let config = base()
            .group_attribute("memberOf")
            .attributes(["cn", "UID", "mail", "entrycsn"])
            .build()
            .expect("builds");
        assert_eq!(
            config.requested_attributes(),
            [
                "uid",
                "modifyTimestamp",
                "entryCSN",
                "memberOf",
                "cn",
                "mail"
            ]
            .map(String::from)
        );
        let none = base()
            .session_stamp_attributes(Vec::<String>::new())
            .build();
        assert!(matches!(none, Err(LdapConfigError::EmptyAttribute { .. })));
    }
}
