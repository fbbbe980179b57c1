//! The `SqlxUser` impl, generic over the database so one struct works on every sqlx database.

use proc_macro2::{Group, Span, TokenStream, TokenTree};
use quote::{quote, quote_spanned};
use syn::{WherePredicate, spanned::Spanned};

use super::check::{Join, Source, StoreModel};

pub(crate) fn expand(model: &StoreModel<'_>) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.input.ident;
    let sqlx = quote!(#krate::__private::sqlx);
    let db = db_param(model.input);

    let mut generics = model.input.generics.clone();
    generics.params.push(syn::parse_quote!(#db));
    let (_, ty_generics, _) = model.input.generics.split_for_impl();
    let (impl_generics, _, _) = generics.split_for_impl();
    let mut bounds: Vec<WherePredicate> = model
        .input
        .generics
        .where_clause
        .as_ref()
        .map(|clause| clause.predicates.iter().cloned().collect())
        .unwrap_or_default();
    bounds.push(syn::parse_quote!(#db: #sqlx::Database));
    if model.input.generics.params.is_empty() {
        bounds.push(auth_user_bound(model.input, krate));
    }
    bounds.push(syn::parse_quote!(
        &'static str: #sqlx::ColumnIndex<<#db as #sqlx::Database>::Row>
    ));

    let mut inits = Vec::new();
    for (field, source) in &model.fields {
        let (name, ty) = (field.ident, field.ty);
        let init = match source {
            Source::Column(column) => {
                // One bound with its own message, on the field's type: a type sqlx cannot
                // decode is reported there, saying what to implement or how to skip it.
                // Every token on the field's type: rustc takes the bound's place from its
                // first and last tokens, and would point at the derive if they differed.
                let bound = respanned(quote!(#ty: #krate::__private::DecodeColumn<#db>), ty.span());
                bounds.push(syn::parse2(bound).expect("a where predicate"));
                quote_spanned! {ty.span()=>
                    #sqlx::Row::try_get::<#ty, _>(row, #column)?
                }
            }
            Source::Hash(column) => {
                bounds.push(syn::parse_quote!(
                    #krate::__private::std::option::Option<#krate::__private::std::string::String>:
                        for<'__r> #sqlx::Decode<'__r, #db> + #sqlx::Type<#db>
                ));
                quote_spanned! {ty.span()=>
                    <#ty as #krate::__private::StoredPasswordHash>::from_stored(
                        #sqlx::Row::try_get::<#krate::__private::std::option::Option<#krate::__private::std::string::String>, _>(row, #column)?,
                    )
                }
            }
            Source::Default => quote_spanned! {ty.span()=>
                <#ty as #krate::__private::core::default::Default>::default()
            },
        };
        inits.push(quote!(#name: #init));
    }

    let table = &model.table;
    let id_column = &model.id_column;
    let username_column = &model.username_column;
    let hash_column = model
        .fields
        .iter()
        .find_map(|(_, source)| match source {
            Source::Hash(column) => Some(column.as_str()),
            _ => None,
        })
        .unwrap_or_default();
    let columns = model.fields.iter().filter_map(|(_, source)| match source {
        Source::Column(column) | Source::Hash(column) => Some(column),
        Source::Default => None,
    });
    let mut description = quote! {
        #krate::__private::UserTable::new(#table, #id_column, #username_column, #hash_column)
            .with_columns(&[#(#columns),*])
    };
    if let Some(column) = &model.email_column {
        description.extend(quote!(.with_email(#column)));
    }
    if let Some(column) = &model.email_verified_column {
        description.extend(quote!(.with_email_verified(#column)));
    }
    if let Some(query) = &model.load_query {
        description.extend(quote!(.with_load_query(#query)));
    }
    if let Some(query) = &model.authenticate_query {
        description.extend(quote!(.with_authenticate_query(#query)));
    }
    let join_table = |join: &Join<'_>| {
        let (table, user_id, value) = (&join.table, &join.user_id_column, &join.value_column);
        quote!(#krate::__private::JoinTable::new(#table, #user_id, #value))
    };
    if let Some(roles) = &model.roles {
        let table = join_table(roles);
        description.extend(quote!(.with_roles(#table)));
    }
    if let Some(permissions) = &model.permissions {
        let table = join_table(permissions);
        description.extend(quote!(.with_permissions(#table)));
    }

    let hash = model.password_hash.ident;
    let hash_ty = model.password_hash.ty;
    let setter = |join: Option<&Join<'_>>, method: TokenStream| {
        join.map(|join| {
            let (name, ty) = (join.field.ident, join.field.ty);
            quote_spanned! {ty.span()=>
                fn #method(
                    &mut self,
                    names: #krate::__private::std::vec::Vec<#krate::__private::std::string::String>,
                ) -> #krate::__private::core::result::Result<(), #krate::__private::BoxError> {
                    self.#name = #krate::__private::from_names::<#ty, _>(names)?;
                    #krate::__private::core::result::Result::Ok(())
                }
            }
        })
    };
    let set_roles = setter(model.roles.as_ref(), quote!(set_roles));
    let set_permissions = setter(model.permissions.as_ref(), quote!(set_permissions));

    // The impl's head is spanned on the struct's name and not marked `#[automatically_derived]`:
    // rustc then explains an impl that does not apply by pointing at the bound that failed, the
    // field's own (see `DecodeColumn` above), instead of at the derive with advice to implement
    // the trait by hand.
    let head = respanned(
        quote!(impl #impl_generics #krate::__private::SqlxUser<#db> for #ident #ty_generics),
        ident.span(),
    );
    quote! {
        const _: () = {
            #krate::__private::sqlx_user! {
                {
                    #[allow(unused_lifetimes, single_use_lifetimes)]
                    #head
                    where
                        #(#bounds,)*
                    {
                        const TABLE: #krate::__private::UserTable = #description;

                        fn from_row(
                            row: &<#db as #sqlx::Database>::Row,
                        ) -> #krate::__private::core::result::Result<Self, #sqlx::Error> {
                            #krate::__private::core::result::Result::Ok(Self { #(#inits,)* })
                        }

                        fn password_hash(&self) -> &str {
                            <#hash_ty as #krate::__private::StoredPasswordHash>::as_hash(&self.#hash)
                        }

                        fn set_password_hash(&mut self, hash: #krate::__private::std::string::String) {
                            self.#hash = <#hash_ty as #krate::__private::StoredPasswordHash>::from_stored(
                                #krate::__private::std::option::Option::Some(hash),
                            );
                        }

                        #set_roles
                        #set_permissions
                    }
                }
                {}
            }
        };
    }
}

/// The impl's database parameter: `DB`, as rustc's notes then show it ("`SqlxUser<DB>` is
/// implemented for `User`"), unless the struct names something `DB` (a parameter, or an alias
/// in a field's type), which the parameter would capture.
fn db_param(input: &syn::DeriveInput) -> syn::Ident {
    fn mentions(tokens: TokenStream, name: &str) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => ident == name,
            TokenTree::Group(group) => mentions(group.stream(), name),
            _ => false,
        })
    }
    let name = if mentions(quote!(#input), "DB") {
        "__AxumLoginDb"
    } else {
        "DB"
    };
    syn::Ident::new(name, Span::call_site())
}

/// `tokens` with every span set to `span`.
fn respanned(tokens: TokenStream, span: Span) -> TokenStream {
    tokens
        .into_iter()
        .map(|mut token| {
            if let TokenTree::Group(group) = &token {
                let mut inner = Group::new(group.delimiter(), respanned(group.stream(), span));
                inner.set_span(span);
                token = TokenTree::Group(inner);
            } else {
                token.set_span(span);
            }
            token
        })
        .collect()
}

/// `for<'a> User: AuthUser`: the impl applies only where the user type is a user, and without
/// one says nothing, so that a missing `#[derive(AuthUser)]` is reported once, by
/// [`assert_auth_user`] (for a generic struct, which that cannot name, the real impl leaves the
/// bound out and the supertrait reports it). The unused binder keeps rustc from rejecting the
/// bound on a concrete type as trivially false.
fn auth_user_bound(input: &syn::DeriveInput, krate: &syn::Path) -> WherePredicate {
    let ident = &input.ident;
    let (_, ty_generics, _) = input.generics.split_for_impl();
    syn::parse_quote!(for<'__axum_login> #ident #ty_generics: #krate::__private::AuthUser)
}

/// An impl with nothing to get wrong, emitted next to the errors, so that the app's uses of
/// `SqlxStore<User, _>` do not add an error asking for the derive that is there.
pub(crate) fn stub(input: &syn::DeriveInput, krate: &syn::Path) -> TokenStream {
    let ident = &input.ident;
    let sqlx = quote!(#krate::__private::sqlx);
    let db = db_param(input);
    let mut generics = input.generics.clone();
    generics.params.push(syn::parse_quote!(#db));
    let (_, ty_generics, _) = input.generics.split_for_impl();
    let (impl_generics, _, _) = generics.split_for_impl();
    let mut bounds: Vec<WherePredicate> = input
        .generics
        .where_clause
        .as_ref()
        .map(|clause| clause.predicates.iter().cloned().collect())
        .unwrap_or_default();
    bounds.push(syn::parse_quote!(#db: #sqlx::Database));
    bounds.push(auth_user_bound(input, krate));
    quote! {
        #krate::__private::sqlx_user! {
            {
                #[automatically_derived]
                #[allow(unused_lifetimes, single_use_lifetimes)]
                impl #impl_generics #krate::__private::SqlxUser<#db> for #ident #ty_generics
                where
                    #(#bounds,)*
                {
                    const TABLE: #krate::__private::UserTable =
                        #krate::__private::UserTable::new("", "", "", "");

                    fn from_row(
                        _: &<#db as #sqlx::Database>::Row,
                    ) -> #krate::__private::core::result::Result<Self, #sqlx::Error> {
                        #krate::__private::core::result::Result::Err(#sqlx::Error::RowNotFound)
                    }

                    fn password_hash(&self) -> &str {
                        ""
                    }

                    fn set_password_hash(&mut self, _: #krate::__private::std::string::String) {}
                }
            }
            {}
        }
    }
}

/// Compiles only if the struct implements `AuthUser`: without the feature `sqlx` nothing else
/// asks, and with it the impl above keeps quiet. On the derive's own name, which is where the
/// fix goes; a generic struct is asked by the impl's bound instead, as its parameters are not
/// nameable here.
pub(crate) fn assert_auth_user(input: &syn::DeriveInput, krate: &syn::Path) -> TokenStream {
    if !input.generics.params.is_empty() {
        return TokenStream::new();
    }
    // Re-spanned, not rebuilt from its text, which would panic on a raw identifier (`r#type`).
    let mut ident = input.ident.clone();
    ident.set_span(Span::call_site());
    quote_spanned! {Span::call_site()=>
        const _: () = {
            // A bound on a function, not a call of `AuthUser`'s methods, which would ask for its
            // supertraits again: with the derive there and `Clone` missing, that is one error,
            // the derive's.
            let _ = #krate::__private::AuthzKinds::of::<#ident>;
        };
    }
}
