//! The `directory` field: a path inside the repository, cleaned lexically (as Go's
//! `path.Clean`) and refused when it would leave the repository (§7.8: any input, never a panic).

/// The cleaned components of `directory`; empty means the repository root.
pub(super) fn clean(directory: Option<&str>) -> Result<Vec<&str>, EscapingDirectory> {
    let directory = directory.unwrap_or_default();
    if directory.starts_with('/') {
        return Err(EscapingDirectory);
    }
    let mut components = Vec::new();
    for component in directory.split('/') {
        match component {
            "" | "." => {}
            // A `..` that only cancels an earlier component stays inside; one more escapes.
            ".." => {
                components.pop().ok_or(EscapingDirectory)?;
            }
            name => components.push(name),
        }
    }
    Ok(components)
}

/// `directory` is absolute or climbs out of the repository.
#[derive(Debug, PartialEq)]
pub(super) struct EscapingDirectory;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_spellings() {
        for root in [
            None,
            Some(""),
            Some("."),
            Some("./"),
            Some("a/.."),
            Some(".//."),
        ] {
            assert_eq!(clean(root), Ok(vec![]), "{root:?}");
        }
    }

    #[test]
    fn cleaned_like_path_clean() {
        assert_eq!(clean(Some("./dev/deploy")), Ok(vec!["dev", "deploy"]));
        assert_eq!(clean(Some("dev//deploy/")), Ok(vec!["dev", "deploy"]));
        assert_eq!(clean(Some("a/../b/./c")), Ok(vec!["b", "c"]));
        assert_eq!(clean(Some("ch")), Ok(vec!["ch"]));
        assert_eq!(clean(Some("...")), Ok(vec!["..."]));
        assert_eq!(clean(Some("..a")), Ok(vec!["..a"]));
    }

    #[test]
    fn escapes_are_refused() {
        for bad in [
            "..",
            "../",
            "../x",
            "/",
            "/x",
            "a/../..",
            "a/../../b",
            "./..",
        ] {
            assert_eq!(clean(Some(bad)), Err(EscapingDirectory), "{bad:?}");
        }
    }
}
