/// The words of a Rust identifier written in PascalCase (or any case): `HTTPAdmin` is `http`,
/// `admin`; `PostsWrite2` is `posts`, `write2`.
fn words(ident: &str) -> Vec<String> {
    let chars: Vec<char> = ident.chars().collect();
    let mut words = Vec::new();
    let mut word = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c == '_' || c == '-' {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        if c.is_uppercase() && !word.is_empty() {
            let prev = chars[i - 1];
            let next_is_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            // `aB` starts a word; in `ABc` the `B` starts one (the acronym ends before it).
            if prev.is_lowercase()
                || prev.is_ascii_digit()
                || (prev.is_uppercase() && next_is_lower)
            {
                words.push(std::mem::take(&mut word));
            }
        }
        word.extend(c.to_lowercase());
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// `PostsWrite` -> `posts_write`.
pub(crate) fn snake_case(ident: &str) -> String {
    words(ident).join("_")
}

/// A container-wide `rename_all = "..."` rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RenameRule {
    Snake,
    ScreamingSnake,
    Kebab,
    ScreamingKebab,
    Lower,
    Upper,
    Pascal,
    Camel,
    Dot,
}

impl RenameRule {
    pub(crate) const NAMES: &'static [&'static str] = &[
        "snake_case",
        "SCREAMING_SNAKE_CASE",
        "kebab-case",
        "SCREAMING-KEBAB-CASE",
        "lowercase",
        "UPPERCASE",
        "PascalCase",
        "camelCase",
        "dot.case",
    ];

    pub(crate) fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "snake_case" => Self::Snake,
            "SCREAMING_SNAKE_CASE" => Self::ScreamingSnake,
            "kebab-case" => Self::Kebab,
            "SCREAMING-KEBAB-CASE" => Self::ScreamingKebab,
            "lowercase" => Self::Lower,
            "UPPERCASE" => Self::Upper,
            "PascalCase" => Self::Pascal,
            "camelCase" => Self::Camel,
            "dot.case" => Self::Dot,
            _ => return None,
        })
    }

    /// The name of the variant `ident` under this rule.
    pub(crate) fn apply(self, ident: &str) -> String {
        let words = words(ident);
        let capitalized = || {
            words.iter().map(|w| {
                let mut chars = w.chars();
                chars
                    .next()
                    .map(|first| first.to_uppercase().chain(chars).collect::<String>())
                    .unwrap_or_default()
            })
        };
        match self {
            Self::Snake => words.join("_"),
            Self::ScreamingSnake => words.join("_").to_uppercase(),
            Self::Kebab => words.join("-"),
            Self::ScreamingKebab => words.join("-").to_uppercase(),
            Self::Lower => words.concat(),
            Self::Upper => words.concat().to_uppercase(),
            Self::Pascal => capitalized().collect(),
            Self::Camel => {
                let mut out = words.first().cloned().unwrap_or_default();
                out.extend(capitalized().skip(1));
                out
            }
            Self::Dot => words.join("."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snake_case_splits_words() {
        assert_eq!(snake_case("Admin"), "admin");
        assert_eq!(snake_case("PostsWrite"), "posts_write");
        assert_eq!(snake_case("HTTPAdmin"), "http_admin");
        assert_eq!(snake_case("ApiV2"), "api_v2");
        assert_eq!(snake_case("V2Admin"), "v2_admin");
        assert_eq!(snake_case("already_snake"), "already_snake");
        assert_eq!(snake_case("A"), "a");
    }

    #[test]
    fn rename_rules() {
        let cases = [
            ("snake_case", "posts_write"),
            ("SCREAMING_SNAKE_CASE", "POSTS_WRITE"),
            ("kebab-case", "posts-write"),
            ("SCREAMING-KEBAB-CASE", "POSTS-WRITE"),
            ("lowercase", "postswrite"),
            ("UPPERCASE", "POSTSWRITE"),
            ("PascalCase", "PostsWrite"),
            ("camelCase", "postsWrite"),
            ("dot.case", "posts.write"),
        ];
        for (rule, expected) in cases {
            let rule = RenameRule::from_name(rule).expect("a listed rule");
            assert_eq!(rule.apply("PostsWrite"), expected, "{rule:?}");
        }
        assert_eq!(RenameRule::NAMES.len(), cases.len());
        assert_eq!(RenameRule::from_name("Snake"), None);
    }
}
