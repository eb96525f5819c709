//! Opaque identifiers for keys that are personal data.
//!
//! A member is keyed by its resident ID number, so a cursor or identifier built from that key
//! would hand the number to anyone who can decode base64. Such keys are sealed instead with
//! AES-256-GCM-SIV under a key the service generates and keeps in the database (so every replica
//! agrees). The nonce is fixed on purpose: the same key always seals to the same text, which
//! keeps cursors and identifiers stable; GCM-SIV stays secure under nonce reuse, revealing only
//! whether two sealed texts hold the same key.

use aes_gcm_siv::aead::{Aead, KeyInit};
use aes_gcm_siv::{Aes256GcmSiv, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use sea_orm::{DatabaseConnection, DbErr};

const SECRET_NAME: &str = "opaque_identifiers";
const NONCE: [u8; 12] = *b"anju-opaque1";

/// Seals and opens personal keys.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256GcmSiv,
}

impl Sealer {
    /// The sealer of this database's deployment.
    pub async fn load(db: &DatabaseConnection) -> Result<Self, DbErr> {
        let secret = super::secrets::get_or_create(db, SECRET_NAME).await?;
        let key = hex::decode(&secret)
            .ok()
            .filter(|k| k.len() == 32)
            .ok_or_else(|| DbErr::Custom(format!("service secret `{SECRET_NAME}` is malformed")))?;
        Self::from_key(&key).map_err(DbErr::Custom)
    }

    /// A sealer over a 32-byte key.
    pub fn from_key(key: &[u8]) -> Result<Self, String> {
        Aes256GcmSiv::new_from_slice(key)
            .map(|cipher| Self { cipher })
            .map_err(|_| "a sealing key has 32 bytes".to_owned())
    }

    /// The sealed form of `plain`.
    pub fn seal(&self, plain: &str) -> String {
        // Encryption in memory cannot fail for inputs of this size.
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(NONCE), plain.as_bytes())
            .unwrap_or_default();
        URL_SAFE_NO_PAD.encode(sealed)
    }

    /// The key inside a sealed text, if this deployment sealed it and nobody altered it.
    pub fn open(&self, sealed: &str) -> Option<String> {
        let bytes = URL_SAFE_NO_PAD.decode(sealed).ok()?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(NONCE), bytes.as_slice())
            .ok()?;
        String::from_utf8(plain).ok()
    }
}

/// Webhook secrets are sealed the same way: the database alone never yields a usable secret.
impl crate::domain::webhooks::Seal for Sealer {
    fn seal(&self, plain: &str) -> String {
        Sealer::seal(self, plain)
    }

    fn open(&self, sealed: &str) -> Option<String> {
        Sealer::open(self, sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealing_is_stable_reversible_and_tamper_evident() {
        let s = Sealer::from_key(&[7u8; 32]).unwrap();
        let a = s.seal("522732197503120114");
        assert_eq!(a, s.seal("522732197503120114"));
        assert_ne!(a, s.seal("522732197503120115"));
        assert!(!a.contains("5227"));
        assert_eq!(s.open(&a).as_deref(), Some("522732197503120114"));
        let mut altered = a.clone().into_bytes();
        altered[3] = if altered[3] == b'A' { b'B' } else { b'A' };
        assert_eq!(s.open(&String::from_utf8(altered).unwrap()), None);
        let other = Sealer::from_key(&[8u8; 32]).unwrap();
        assert_eq!(other.open(&a), None);
    }
}
