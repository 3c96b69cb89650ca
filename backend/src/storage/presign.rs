//! URL signatures for the local blob store: HMAC-SHA256 over the method, the
//! block hash (or photo key), the size (for PUT) and the expiry, so a URL
//! grants exactly one operation on one object for a limited time.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use drive_wire::BlockHash;

type HmacSha256 = Hmac<Sha256>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Put,
    /// Reading a photo object: signed apart from block reads, so that a
    /// block URL never opens the photo namespace or the other way round.
    GetPhoto,
}

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the URL's signature is not valid")]
    Invalid,
    #[error("the URL has expired")]
    Expired,
}

#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl UrlSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(&self, method: Method, hash: BlockHash, size: Option<u64>, expires: i64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        let method = match method {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::GetPhoto => "GET photo",
        };
        let size = size.map(|s| s.to_string()).unwrap_or_default();
        mac.update(format!("{method}\n{hash}\n{size}\n{expires}").as_bytes());
        mac
    }

    pub fn sign(&self, method: Method, hash: BlockHash, size: Option<u64>, expires: i64) -> String {
        hex::encode(self.mac(method, hash, size, expires).finalize().into_bytes())
    }

    /// Checks the signature first, so that an altered expiry reads as tampering.
    pub fn verify(
        &self,
        method: Method,
        hash: BlockHash,
        size: Option<u64>,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        let signature = hex::decode(signature).map_err(|_| SignatureError::Invalid)?;
        self.mac(method, hash, size, expires)
            .verify_slice(&signature)
            .map_err(|_| SignatureError::Invalid)?;
        if expires < now {
            return Err(SignatureError::Expired);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash() -> BlockHash {
        "ab".repeat(32).parse().unwrap()
    }

    #[test]
    fn accepts_its_own_signature_until_expiry() {
        let signer = UrlSigner::new(b"key".to_vec());
        let sig = signer.sign(Method::Put, hash(), Some(10), 100);
        assert_eq!(signer.verify(Method::Put, hash(), Some(10), 100, &sig, 99), Ok(()));
        assert_eq!(
            signer.verify(Method::Put, hash(), Some(10), 100, &sig, 101),
            Err(SignatureError::Expired)
        );
    }

    #[test]
    fn refuses_any_alteration() {
        let signer = UrlSigner::new(b"key".to_vec());
        let sig = signer.sign(Method::Put, hash(), Some(10), 100);
        let other: BlockHash = "cd".repeat(32).parse().unwrap();
        assert_eq!(
            signer.verify(Method::Put, hash(), Some(11), 100, &sig, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(Method::Put, hash(), Some(10), 200, &sig, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(Method::Put, other, Some(10), 100, &sig, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(Method::Get, hash(), Some(10), 100, &sig, 0),
            Err(SignatureError::Invalid)
        );
        assert_eq!(
            signer.verify(Method::Put, hash(), Some(10), 100, "zz", 0),
            Err(SignatureError::Invalid)
        );
        let photo = signer.sign(Method::Get, hash(), None, 100);
        assert_eq!(
            signer.verify(Method::GetPhoto, hash(), None, 100, &photo, 0),
            Err(SignatureError::Invalid)
        );
        let other_key = UrlSigner::new(b"other".to_vec());
        assert_eq!(
            other_key.verify(Method::Put, hash(), Some(10), 100, &sig, 0),
            Err(SignatureError::Invalid)
        );
    }
}
