//! A software passkey playing the browser's authenticator: webauthn-authenticator-rs's
//! `SoftPasskey`, plus what a discoverable (resident) passkey does that it does not.
//!
//! `SoftPasskey` signs only for the credentials a request names and gives back no user handle.
//! A platform passkey remembers, per credential, the user handle it was registered with and
//! offers its credentials when the request names none. [`SoftAuthenticator`] adds exactly that
//! around it: the signature is still `SoftPasskey`'s over the server's challenge and origin (the
//! user handle is not signed in WebAuthn either; the server maps it to its own passkey and checks
//! the signature with that key).

use axum_login::mfa::passkey::{
    CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential,
    RequestChallengeResponse, Url,
};
use webauthn_authenticator_rs::{WebauthnAuthenticator, softpasskey::SoftPasskey};
use webauthn_rs_proto::AllowCredentials;

pub struct SoftAuthenticator {
    inner: SoftPasskey,
    origin: Url,
    /// (credential id, user handle) of each registration.
    resident: Vec<(Vec<u8>, Vec<u8>)>,
}

impl SoftAuthenticator {
    /// An authenticator that speaks for pages of `origin` and performs user verification.
    pub fn new(origin: Url) -> Self {
        Self {
            // `true`: the soft key reports user verification (a PIN or biometric) as a real
            // passkey does; passkey ceremonies require it.
            inner: SoftPasskey::new(true),
            origin,
            resident: Vec::new(),
        }
    }

    /// `navigator.credentials.create()`.
    pub fn register(&mut self, options: CreationChallengeResponse) -> RegisterPublicKeyCredential {
        self.register_from(self.origin.clone(), options)
    }

    /// `navigator.credentials.create()` on a page of `origin`.
    pub fn register_from(
        &mut self,
        origin: Url,
        options: CreationChallengeResponse,
    ) -> RegisterPublicKeyCredential {
        let handle = options.public_key.user.id.to_vec();
        let response = self
            .inner
            .do_registration(origin, options)
            .expect("the soft passkey registers");
        self.resident.push((response.raw_id.to_vec(), handle));
        response
    }

    /// `navigator.credentials.get()`.
    pub fn authenticate(&mut self, options: RequestChallengeResponse) -> PublicKeyCredential {
        self.authenticate_from(self.origin.clone(), options)
            .expect("the soft passkey signs")
    }

    /// `navigator.credentials.get()` on a page of `origin`; for a request that names no
    /// credential (passwordless), the first one registered, with its user handle.
    pub fn authenticate_from(
        &mut self,
        origin: Url,
        mut options: RequestChallengeResponse,
    ) -> Result<PublicKeyCredential, String> {
        let discoverable = options.public_key.allow_credentials.is_empty();
        if discoverable {
            let (id, _) = self.resident.first().ok_or("no passkey registered")?;
            options.public_key.allow_credentials = vec![AllowCredentials {
                type_: "public-key".into(),
                id: id.clone(),
                transports: None,
            }];
            options.mediation = None;
        }
        let mut response = self
            .inner
            .do_authentication(origin, options)
            .map_err(|error| format!("{error:?}"))?;
        if discoverable {
            response.response.user_handle = self
                .resident
                .iter()
                .find(|(id, _)| *id == response.raw_id.to_vec())
                .map(|(_, handle)| handle.clone());
        }
        Ok(response)
    }
}
