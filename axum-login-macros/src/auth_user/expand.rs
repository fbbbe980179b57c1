//! The `AuthUser` impl, and the stub emitted instead when the input is in error.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned};
use syn::{DeriveInput, WherePredicate, spanned::Spanned};

use crate::internals::user_struct::{AuthUserModel, RolesField};

pub(super) fn expand(model: &AuthUserModel<'_>) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.input.ident;
    let (impl_generics, ty_generics, _) = model.input.generics.split_for_impl();
    let generic = !model.input.generics.params.is_empty();

    let mut bounds = user_bounds(model.input);
    if generic {
        bounds.extend(self_bounds(model.input, krate));
        let id_ty = model.id.ty;
        bounds.push(syn::parse_quote_spanned! {id_ty.span()=>
            #id_ty: #krate::__private::core::clone::Clone
                + #krate::__private::core::fmt::Display
                + #krate::__private::serde::Serialize
                + #krate::__private::serde::de::DeserializeOwned
                + #krate::__private::core::marker::Send
                + #krate::__private::core::marker::Sync
                + 'static
        });
    }

    let id_ty = model.id.ty;
    let id_ident = model.id.ident;
    let id_ty = quote_spanned!(id_ty.span()=> #id_ty);

    let session_auth_hash = match &model.password_hash {
        Some(hash) => {
            let (field, ty) = (hash.ident, hash.ty);
            if generic {
                bounds.push(syn::parse_quote_spanned! {ty.span()=>
                    #ty: #krate::__private::AsSecretBytes
                });
            }
            quote_spanned! {ty.span()=>
                <#ty as #krate::__private::AsSecretBytes>::as_secret_bytes(&self.#field)
            }
        }
        None => quote!(&[]),
    };

    let security_stamp = model.security_stamp.as_ref().map(|stamp| {
        let (field, ty) = (stamp.ident, stamp.ty);
        if generic {
            bounds.push(syn::parse_quote_spanned! {ty.span()=>
                #ty: #krate::__private::SecurityStamp
            });
        }
        let bytes = quote_spanned! {ty.span()=>
            <#ty as #krate::__private::SecurityStamp>::stamp_bytes(&self.#field)
        };
        quote! {
            fn security_stamp(&self) -> #krate::__private::std::borrow::Cow<'_, [u8]> {
                #bytes
            }
        }
    });

    // Each field's type is named once per trait, in the same tokens, so that a type that is not
    // a role (or a collection of them) gives one error, on the field's type.
    let mut roles_held = quote!(#krate::__private::Held::Nothing);
    let has_role = model.roles.as_ref().map(|roles| {
        let field = roles.field();
        let (name, ty) = (field.ident, field.ty);
        let body = match roles {
            RolesField::One(_) => {
                if generic {
                    bounds.push(
                        syn::parse_quote_spanned!(ty.span()=> #ty: #krate::__private::RoleItem),
                    );
                }
                roles_held =
                    quote_spanned!(ty.span()=> <#ty as #krate::__private::RoleItem>::held());
                quote_spanned! {ty.span()=>
                    <#ty as #krate::__private::RoleItem>::satisfies(
                        &role,
                        #krate::__private::core::iter::once(&self.#name),
                    )
                }
            }
            RolesField::Many(_) => {
                if generic {
                    bounds.push(
                        syn::parse_quote_spanned!(ty.span()=> #ty: #krate::__private::RoleSet),
                    );
                }
                roles_held =
                    quote_spanned!(ty.span()=> <#ty as #krate::__private::RoleSet>::held());
                quote_spanned! {ty.span()=>
                    <#ty as #krate::__private::RoleSet>::has_role(&self.#name, role)
                }
            }
        };
        quote! {
            fn has_role(&self, role: #krate::__private::RoleRef<'_>) -> bool {
                #body
            }
        }
    });

    let mut permissions_held = quote!(#krate::__private::Held::Nothing);
    let has_permission = model.permissions.as_ref().map(|field| {
        let (name, ty) = (field.ident, field.ty);
        if generic {
            bounds
                .push(syn::parse_quote_spanned!(ty.span()=> #ty: #krate::__private::PermissionSet));
        }
        permissions_held =
            quote_spanned!(ty.span()=> <#ty as #krate::__private::PermissionSet>::held());
        let body = quote_spanned! {ty.span()=>
            <#ty as #krate::__private::PermissionSet>::has_permission(&self.#name, permission)
        };
        quote! {
            fn has_permission(&self, permission: #krate::__private::PermissionRef<'_>) -> bool {
                #body
            }
        }
    });

    // What the type can hold, for `AuthLayerBuilder::build`'s check of the names guards give
    // as strings; a generic type has no one set of roles to tell.
    let register = (!generic).then(|| {
        quote! {
            #krate::__private::inventory::submit! {
                #krate::__private::DerivedUserType {
                    type_name: #krate::__private::core::any::type_name::<#ident>,
                    // Through a function bounded on `AuthUser`, not its method, which would
                    // ask for the supertraits again: a missing `Clone` stays one error.
                    kinds: #krate::__private::AuthzKinds::of::<#ident>,
                }
            }
        }
    });
    // Mail for the account goes to this field (`axum_login::accounts`). The trait comes
    // through `__private`, which without the `accounts` feature names a stand-in whose
    // unmet bound says to turn the feature on.
    let email = model.email.as_ref().map(|field| {
        let (name, ty) = (field.ident, field.ty);
        let mut bounds = bounds.clone();
        if generic {
            bounds
                .push(syn::parse_quote_spanned!(ty.span()=> #ty: #krate::__private::EmailAddress));
        }
        let verified = model.email_verified.as_ref().map(|field| {
            let (name, ty) = (field.ident, field.ty);
            if generic {
                bounds.push(
                    syn::parse_quote_spanned!(ty.span()=> #ty: #krate::__private::EmailVerifiedField),
                );
            }
            let body = quote_spanned! {ty.span()=>
                <#ty as #krate::__private::EmailVerifiedField>::is_verified(&self.#name)
            };
            quote! {
                fn email_verified(&self) -> bool {
                    #body
                }
            }
        });
        let where_clause = where_clause(&bounds);
        let body = quote_spanned! {ty.span()=>
            <#ty as #krate::__private::EmailAddress>::address(&self.#name)
        };
        quote! {
            #[automatically_derived]
            impl #impl_generics #krate::__private::EmailUser for #ident #ty_generics #where_clause {
                fn email(&self) -> #krate::__private::core::option::Option<&str> {
                    #body
                }

                #verified
            }
        }
    });
    let where_clause = where_clause(&bounds);
    quote! {
        #register

        #email

        #[automatically_derived]
        impl #impl_generics #krate::__private::AuthUser for #ident #ty_generics #where_clause {
            type Id = #id_ty;

            // The field's type, not `<Self as AuthUser>::Id`: that path would ask again for
            // `AuthUser`'s supertraits, and a missing `Clone` would be reported twice.
            fn id(&self) -> #id_ty {
                #krate::__private::core::clone::Clone::clone(&self.#id_ident)
            }

            fn session_auth_hash(&self) -> &[u8] {
                #session_auth_hash
            }

            #security_stamp

            #has_role

            #has_permission

            fn authz_kinds() -> #krate::__private::AuthzKinds {
                #krate::__private::AuthzKinds {
                    roles: #roles_held,
                    permissions: #permissions_held,
                }
            }
        }
    }
}

/// An impl with nothing to get wrong, emitted next to the errors so that code using the type as
/// a user does not add errors of its own.
pub(super) fn stub(input: &DeriveInput, krate: &syn::Path) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, _) = input.generics.split_for_impl();
    let mut bounds = user_bounds(input);
    if !input.generics.params.is_empty() {
        bounds.extend(self_bounds(input, krate));
    }
    let where_clause = where_clause(&bounds);
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::__private::AuthUser for #ident #ty_generics #where_clause {
            type Id = #krate::__private::std::string::String;

            fn id(&self) -> #krate::__private::std::string::String {
                #krate::__private::std::string::String::new()
            }

            fn session_auth_hash(&self) -> &[u8] {
                &[]
            }
        }
    }
}

fn user_bounds(input: &DeriveInput) -> Vec<WherePredicate> {
    input
        .generics
        .where_clause
        .iter()
        .flat_map(|clause| clause.predicates.iter().cloned())
        .collect()
}

/// The supertraits of `AuthUser`, which a generic struct meets only for some parameters.
fn self_bounds(input: &DeriveInput, krate: &syn::Path) -> Vec<WherePredicate> {
    let ident = &input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    vec![syn::parse_quote! {
        #ident #ty_generics: #krate::__private::core::clone::Clone + #krate::__private::core::marker::Send + #krate::__private::core::marker::Sync + 'static
    }]
}

fn where_clause(bounds: &[WherePredicate]) -> Option<TokenStream> {
    (!bounds.is_empty()).then(|| quote!(where #(#bounds,)*))
}
