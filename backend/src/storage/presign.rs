//! URL signatures for the local blob store: HMAC-SHA256 over the method, the
//! block hash (or photo key), the size (for PUT) and the expiry, so a URL
//! grants exactly one operation on one object for a limited time. A PUT URL
//! also signs who it was handed to: the uploader's id and the token of their
//! upload reservation ([`UploadGrant`]), so that the bytes it carries prove
//! possession for that user and nobody else (see `uploads.rs`).

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

/// The upload a PUT URL belongs to: the user it was handed to in step 1 and
/// the token of that user's reservation of the block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadGrant {
    pub user_id: i64,
    /// Random hex, at most 64 digits (anything else is refused).
    pub token: String,
}

impl UploadGrant {
    /// Whether the token has the shape the server makes (so that it cannot
    /// smuggle separators into the signed text).
    pub fn well_formed(&self) -> bool {
        !self.token.is_empty() && self.token.len() <= 64 && self.token.bytes().all(|b| b.is_ascii_hexdigit())
    }
}

#[derive(Clone)]
pub struct UrlSigner {
    key: Vec<u8>,
}

impl UrlSigner {
    pub fn new(key: Vec<u8>) -> Self {
        Self { key }
    }

    fn mac(
        &self,
        method: Method,
        hash: BlockHash,
        size: Option<u64>,
        expires: i64,
        grant: Option<&UploadGrant>,
    ) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any length");
        let method = match method {
            Method::Get => "GET",
            Method::Put => "PUT",
            Method::GetPhoto => "GET photo",
        };
        let size = size.map(|s| s.to_string()).unwrap_or_default();
        mac.update(format!("{method}\n{hash}\n{size}\n{expires}").as_bytes());
        if let Some(grant) = grant {
            mac.update(format!("\nupload\n{}\n{}", grant.user_id, grant.token).as_bytes());
        }
        mac
    }

    pub fn sign(&self, method: Method, hash: BlockHash, size: Option<u64>, expires: i64) -> String {
        hex::encode(self.mac(method, hash, size, expires, None).finalize().into_bytes())
    }

    /// A PUT of exactly `size` bytes of `hash`, for the upload `grant`.
    pub fn sign_put(&self, hash: BlockHash, size: u64, grant: &UploadGrant, expires: i64) -> String {
        hex::encode(
            self.mac(Method::Put, hash, Some(size), expires, Some(grant))
                .finalize()
                .into_bytes(),
        )
    }

    /// Checks a URL made by [`UrlSigner::sign_put`].
    pub fn verify_put(
        &self,
        hash: BlockHash,
        size: u64,
        grant: &UploadGrant,
        expires: i64,
        signature: &str,
        now: i64,
    ) -> Result<(), SignatureError> {
        if !grant.well_formed() {
            return Err(SignatureError::Invalid);
        }
        self.check(
            self.mac(Method::Put, hash, Some(size), expires, Some(grant)),
            expires,
            signature,
            now,
        )
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
        self.check(self.mac(method, hash, size, expires, None), expires, signature, now)
    }

    fn check(&self, mac: HmacSha256, expires: i64, signature: &str, now: i64) -> Result<(), SignatureError> {
        let signature = hex::decode(signature).map_err(|_| SignatureError::Invalid)?;
        mac.verify_slice(&signature).map_err(|_| SignatureError::Invalid)?;
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
        let grant = UploadGrant {
            user_id: 7,
            token: "00ff".into(),
        };
        assert_eq!(
            signer.verify_put(hash(), 10, &grant, 100, &sig, 0),
            Err(SignatureError::Invalid),
            "a PUT URL without an upload grant is not one with it"
        );
        let other_key = UrlSigner::new(b"other".to_vec());
        assert_eq!(
            other_key.verify(Method::Put, hash(), Some(10), 100, &sig, 0),
            Err(SignatureError::Invalid)
        );
    }

    #[test]
    fn a_put_url_is_bound_to_its_upload() {
        let signer = UrlSigner::new(b"key".to_vec());
        let grant = UploadGrant {
            user_id: 7,
            token: "abcdef0123".into(),
        };
        let sig = signer.sign_put(hash(), 10, &grant, 100);
        assert_eq!(signer.verify_put(hash(), 10, &grant, 100, &sig, 99), Ok(()));
        assert_eq!(
            signer.verify_put(hash(), 10, &grant, 100, &sig, 101),
            Err(SignatureError::Expired)
        );
        let other_user = UploadGrant {
            user_id: 8,
            ..grant.clone()
        };
        let other_token = UploadGrant {
            token: "abcdef0124".into(),
            ..grant.clone()
        };
        for other in [other_user, other_token] {
            assert_eq!(
                signer.verify_put(hash(), 10, &other, 100, &sig, 0),
                Err(SignatureError::Invalid)
            );
        }
        assert_eq!(
            signer.verify_put(hash(), 11, &grant, 100, &sig, 0),
            Err(SignatureError::Invalid)
        );
        let plain = signer.sign(Method::Put, hash(), Some(10), 100);
        assert_eq!(
            signer.verify_put(hash(), 10, &grant, 100, &plain, 0),
            Err(SignatureError::Invalid)
        );
        let bad = UploadGrant {
            user_id: 7,
            token: "ab\ncd".into(),
        };
        assert_eq!(
            signer.verify_put(hash(), 10, &bad, 100, &signer.sign_put(hash(), 10, &bad, 100), 0),
            Err(SignatureError::Invalid)
        );
    }
}
