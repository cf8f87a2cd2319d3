//! Identifiers that become file names (eval run ids name journal files): a closed alphabet, so an
//! id can never climb out of its folder (`../../etc/x`) or hide as a dotfile.

/// Longest accepted id, in bytes.
pub const MAX_ID_LEN: usize = 128;

/// Why a text is not a usable id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{what} `{id}` is not a valid id: {reason}; use 1 to {MAX_ID_LEN} characters from A-Z a-z 0-9 . _ -, not starting with a dot"
)]
pub struct IdError {
    pub what: &'static str,
    pub id: String,
    pub reason: &'static str,
}

/// Check that `id` (named `what` in the error, e.g. "run id") is 1 to [`MAX_ID_LEN`] characters
/// from `[A-Za-z0-9._-]` and does not start with a dot.
pub fn check_id(what: &'static str, id: &str) -> Result<(), IdError> {
    let fail = |reason| {
        Err(IdError {
            what,
            id: id.chars().take(MAX_ID_LEN).collect(),
            reason,
        })
    };
    if id.is_empty() {
        return fail("it is empty");
    }
    if id.len() > MAX_ID_LEN {
        return fail("it is too long");
    }
    if id.starts_with('.') {
        return fail("it starts with a dot");
    }
    if !id
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
    {
        return fail("it holds a character other than A-Z a-z 0-9 . _ -");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issue_10_ids_that_could_escape_their_folder_are_refused() {
        for good in ["xstest-20250101-abc", "run_1.2", "A"] {
            assert_eq!(check_id("run id", good), Ok(()), "{good}");
        }
        let long = "a".repeat(MAX_ID_LEN + 1);
        for bad in [
            "",
            "../../etc/x",
            "a/b",
            ".hidden",
            "..",
            "a b",
            "é",
            long.as_str(),
        ] {
            let error = check_id("run id", bad).unwrap_err();
            assert!(error.to_string().contains("A-Z a-z 0-9"), "{error}");
        }
    }
}
