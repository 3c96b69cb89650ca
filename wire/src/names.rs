//! The one rule for file and folder names, applied by the server and checked
//! early by clients.
//!
//! A name is normalized to Unicode NFC, then it must be non-empty, at most
//! [`MAX_NAME_BYTES`] bytes of UTF-8, contain neither `/` nor NUL, and be neither
//! `.` nor `..`. Names are case-sensitive. Anything else (spaces, emoji, a
//! backslash) is kept as given: whether the local disk can hold it is the
//! client's business.

/// Longest name, in bytes of UTF-8 after NFC normalization (the limit of ext4,
/// APFS and NTFS alike).
pub const MAX_NAME_BYTES: usize = 255;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidName {
    #[error("a name cannot be empty")]
    Empty,
    #[error("\".\" and \"..\" are not names")]
    DotOrDotDot,
    #[error("a name cannot contain \"/\"")]
    Slash,
    #[error("a name cannot contain a NUL character")]
    Nul,
    #[error("a name is at most {MAX_NAME_BYTES} bytes of UTF-8, this one is {0}")]
    TooLong(usize),
}

/// Returns the NFC form of `name` if it is a valid name.
pub fn validate_name(name: &str) -> Result<String, InvalidName> {
    use unicode_normalization::UnicodeNormalization;

    let name: String = name.nfc().collect();
    if name.is_empty() {
        return Err(InvalidName::Empty);
    }
    if name == "." || name == ".." {
        return Err(InvalidName::DotOrDotDot);
    }
    if name.contains('/') {
        return Err(InvalidName::Slash);
    }
    if name.contains('\0') {
        return Err(InvalidName::Nul);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(InvalidName::TooLong(name.len()));
    }
    Ok(name)
}

/// Splits a `/`-separated path into validated names; empty segments (leading,
/// trailing or doubled slashes) are skipped, `.` and `..` are refused.
pub fn split_path(path: &str) -> Result<Vec<String>, InvalidName> {
    path.split('/')
        .filter(|segment| !segment.is_empty())
        .map(validate_name)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_to_nfc() {
        // "é" as e + combining acute becomes the single code point.
        assert_eq!(validate_name("e\u{301}.txt").unwrap(), "\u{e9}.txt");
    }

    #[test]
    fn refuses_what_the_rule_refuses() {
        assert_eq!(validate_name(""), Err(InvalidName::Empty));
        assert_eq!(validate_name("."), Err(InvalidName::DotOrDotDot));
        assert_eq!(validate_name(".."), Err(InvalidName::DotOrDotDot));
        assert_eq!(validate_name("a/b"), Err(InvalidName::Slash));
        assert_eq!(validate_name("a\0b"), Err(InvalidName::Nul));
        assert_eq!(validate_name(&"x".repeat(256)), Err(InvalidName::TooLong(256)));
        assert!(validate_name(&"x".repeat(255)).is_ok());
        assert!(validate_name("..hidden").is_ok());
    }

    #[test]
    fn splits_paths() {
        assert_eq!(split_path("/a//b/").unwrap(), vec!["a", "b"]);
        assert_eq!(split_path("a/../b"), Err(InvalidName::DotOrDotDot));
    }
}
