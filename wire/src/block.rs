//! Content addresses of blocks.

use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// SHA-256 of a block's bytes. Parsing accepts exactly 64 hex digits, so a hash
/// taken from a URL or a request can never smuggle a path into a storage key.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(value_type = String, example = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"))]
pub struct BlockHash([u8; 32]);

#[derive(Debug, thiserror::Error)]
#[error("a block hash is 64 lowercase or uppercase hex digits")]
pub struct InvalidBlockHash;

impl BlockHash {
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl FromStr for BlockHash {
    type Err = InvalidBlockHash;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 64 {
            return Err(InvalidBlockHash);
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| InvalidBlockHash)?;
        Ok(Self(bytes))
    }
}

impl TryFrom<String> for BlockHash {
    type Error = InvalidBlockHash;

    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<BlockHash> for String {
    fn from(h: BlockHash) -> Self {
        h.to_string()
    }
}

impl fmt::Display for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for BlockHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlockHash({self})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_only_64_hex_digits() {
        let ok = "00".repeat(32);
        assert!(ok.parse::<BlockHash>().is_ok());
        assert!("../../etc/passwd".parse::<BlockHash>().is_err());
        assert!("0".repeat(63).parse::<BlockHash>().is_err());
        assert!("g".repeat(64).parse::<BlockHash>().is_err());
    }

    #[test]
    fn round_trips_through_json() {
        let h: BlockHash = "ab".repeat(32).parse().unwrap();
        let json = serde_json_like(&h);
        assert_eq!(json, "ab".repeat(32));
    }

    fn serde_json_like(h: &BlockHash) -> String {
        String::from(*h)
    }
}
