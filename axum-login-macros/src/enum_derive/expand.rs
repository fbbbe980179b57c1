//! The trait impl, `Display`, `FromStr`, serde and sqlx for a `Role` or `Permission` enum.

use proc_macro2::TokenStream;
use quote::{format_ident, quote};
use syn::DeriveInput;

use super::attr::{EnumModel, Kind};

pub(super) fn expand(model: &EnumModel<'_>, satisfies: &[Vec<usize>]) -> TokenStream {
    let krate = &model.krate;
    let ident = &model.input.ident;
    let (impl_generics, ty_generics, where_clause) = model.input.generics.split_for_impl();
    let trait_ident = format_ident!("{}", model.kind.trait_name());
    let noun = model.kind.attr();
    let expecting = format!("a {noun} name");

    let variants: Vec<_> = model.variants.iter().map(|v| v.ident).collect();
    let names: Vec<_> = model.variants.iter().map(|v| v.name.as_str()).collect();

    let as_str = if variants.is_empty() {
        quote!(match *self {})
    } else {
        quote!(match self { #(Self::#variants => #names,)* })
    };

    // `Display`, `Serialize` and sqlx read the name with their own `match`, not through
    // `Role::as_str`: calling the trait's method asks again for its supertraits, so a missing
    // `Debug` would be reported once per impl.
    let name_of = |value: TokenStream| {
        if variants.is_empty() {
            quote!(match *#value {})
        } else {
            quote!(match #value { #(#ident::#variants => #names,)* })
        }
    };
    let name_of_value = name_of(quote!(value));
    // An enum without variants has no value to name: its bodies are the empty `match` alone,
    // not a call whose argument never returns.
    let (display_body, serialize_body) = if variants.is_empty() {
        (quote!(match *self {}), quote!(match *self {}))
    } else {
        let name = name_of(quote!(self));
        (
            quote!(f.write_str(#name)),
            quote!(serializer.serialize_str(#name)),
        )
    };

    let satisfies_fn = matches!(model.kind, Kind::Role).then(|| {
        let body = if variants.is_empty() {
            quote!(match *self {})
        } else {
            let arms = model
                .variants
                .iter()
                .zip(satisfies)
                .map(|(variant, reached)| {
                    let held = variant.ident;
                    let reached = reached.iter().map(|&i| model.variants[i].ident);
                    quote!(Self::#held => #krate::__private::core::matches!(required, #(Self::#reached)|*))
                });
            quote!(match self { #(#arms,)* })
        };
        quote! {
            fn satisfies(&self, required: &Self) -> bool {
                #body
            }
        }
    });

    let sqlx = model.input.generics.params.is_empty().then(|| {
        quote! {
            #krate::__private::sqlx_text!(#ident, |value: &#ident| -> &'static str { #name_of_value });
        }
    });

    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::__private::#trait_ident for #ident #ty_generics #where_clause {
            const ALL: &'static [Self] = &[#(Self::#variants),*];

            fn as_str(&self) -> &'static str {
                #as_str
            }

            #satisfies_fn
        }

        #[automatically_derived]
        impl #impl_generics #krate::__private::core::fmt::Display for #ident #ty_generics #where_clause {
            fn fmt(&self, f: &mut #krate::__private::core::fmt::Formatter<'_>) -> #krate::__private::core::fmt::Result {
                #display_body
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::__private::core::str::FromStr for #ident #ty_generics #where_clause {
            type Err = #krate::__private::ParseNameError;

            fn from_str(name: &str) -> #krate::__private::core::result::Result<Self, Self::Err> {
                match name {
                    #(#names => #krate::__private::core::result::Result::Ok(Self::#variants),)*
                    _ => #krate::__private::core::result::Result::Err(#krate::__private::ParseNameError::new(#noun, name, &[#(#names),*])),
                }
            }
        }

        #[automatically_derived]
        impl #impl_generics #krate::__private::serde::Serialize for #ident #ty_generics #where_clause {
            fn serialize<__S>(&self, serializer: __S) -> #krate::__private::core::result::Result<__S::Ok, __S::Error>
            where
                __S: #krate::__private::serde::Serializer,
            {
                #serialize_body
            }
        }

        #[automatically_derived]
        impl<'__de> #krate::__private::serde::Deserialize<'__de> for #ident #ty_generics #where_clause {
            fn deserialize<__D>(deserializer: __D) -> #krate::__private::core::result::Result<Self, __D::Error>
            where
                __D: #krate::__private::serde::Deserializer<'__de>,
            {
                #krate::__private::deserialize_name(deserializer, #expecting)
            }
        }

        #sqlx
    }
}

/// The trait impl alone, with nothing to get wrong, emitted next to the errors so that uses of
/// the enum as a role add no errors of their own.
pub(super) fn stub(input: &DeriveInput, kind: Kind, krate: &syn::Path) -> TokenStream {
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let trait_ident = format_ident!("{}", kind.trait_name());
    let satisfies = matches!(kind, Kind::Role).then(|| {
        quote! {
            fn satisfies(&self, _: &Self) -> bool {
                false
            }
        }
    });
    quote! {
        #[automatically_derived]
        impl #impl_generics #krate::__private::#trait_ident for #ident #ty_generics #where_clause {
            const ALL: &'static [Self] = &[];

            fn as_str(&self) -> &'static str {
                ""
            }

            #satisfies
        }
    }
}
