/// The one of `allowed` nearest to `given`, if it is near enough to be a likely typo of it: what
/// an unknown-name error suggests with "did you mean `x`?".
pub(crate) fn did_you_mean<'a, I>(given: &str, allowed: I) -> Option<&'a str>
where
    I: IntoIterator<Item = &'a str>,
{
    // A typo changes few characters; beyond a third of the word it is more likely another word.
    let limit = given.chars().count().max(3) / 3 + 1;
    allowed
        .into_iter()
        .map(|candidate| (edit_distance(given, candidate), candidate))
        .filter(|&(distance, _)| distance <= limit)
        .min_by_key(|&(distance, _)| distance)
        .map(|(_, candidate)| candidate)
}

/// "expected one of: `a`, `b`, `c`", for the end of an error message.
pub(crate) fn expected_one_of(allowed: &[&str]) -> String {
    let list = allowed
        .iter()
        .map(|name| format!("`{name}`"))
        .collect::<Vec<_>>()
        .join(", ");
    format!("expected one of: {list}")
}

/// Levenshtein distance over chars, in O(len(b)) memory.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    let mut current = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        current[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitution = previous[j] + usize::from(ca != cb);
            current[j + 1] = substitution.min(previous[j + 1] + 1).min(current[j] + 1);
        }
        std::mem::swap(&mut previous, &mut current);
    }
    previous[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distance_counts_edits() {
        assert_eq!(edit_distance("", ""), 0);
        assert_eq!(edit_distance("abc", ""), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
        assert_eq!(edit_distance("passwrd_hash", "password_hash"), 1);
    }

    #[test]
    fn suggests_the_nearest_name() {
        let keys = [
            "id",
            "password_hash",
            "username",
            "role",
            "roles",
            "permissions",
        ];
        assert_eq!(did_you_mean("passwrd_hash", keys), Some("password_hash"));
        assert_eq!(did_you_mean("rol", keys), Some("role"));
        assert_eq!(did_you_mean("permision", keys), Some("permissions"));
        assert_eq!(
            did_you_mean("Editr", ["Admin", "Editor", "Viewer"]),
            Some("Editor")
        );
    }

    #[test]
    fn suggests_nothing_for_an_unrelated_name() {
        assert_eq!(did_you_mean("frobnicate", ["id", "username"]), None);
        assert_eq!(did_you_mean("x", Vec::<&str>::new()), None);
    }

    #[test]
    fn lists_expected_names() {
        assert_eq!(expected_one_of(&["a", "b"]), "expected one of: `a`, `b`");
    }
}
