//! Secrets the service must be able to read back (webhook secrets that key an HMAC, integration
//! URLs) are sealed with ChaCha20-Poly1305 under a key derived from `CICD_SECRET_KEY`.

use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use secrecy::{ExposeSecret, SecretString};
use sha2::{Digest, Sha256};

const NONCE_LEN: usize = 12;
/// Shortest accepted `CICD_SECRET_KEY` (e.g. `openssl rand -base64 32` gives 44 characters).
pub const MIN_KEY_LEN: usize = 32;

/// Seals and opens secrets. Cheap to clone.
#[derive(Clone)]
pub struct SecretBox {
    cipher: ChaCha20Poly1305,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    /// The key is SHA-256 over a fixed label and `CICD_SECRET_KEY`, which must be long and random.
    pub fn new(key: &SecretString) -> anyhow::Result<Self> {
        let key = key.expose_secret();
        anyhow::ensure!(
            key.len() >= MIN_KEY_LEN,
            "CICD_SECRET_KEY must be at least {MIN_KEY_LEN} characters (try: openssl rand -base64 32)"
        );
        let digest = Sha256::new()
            .chain_update(b"ci-cd-monitor secret box v1\0")
            .chain_update(key.as_bytes())
            .finalize();
        Ok(SecretBox {
            cipher: ChaCha20Poly1305::new(Key::from_slice(&digest)),
        })
    }

    /// A random nonce followed by the ciphertext and its tag.
    pub fn seal(&self, plaintext: &[u8]) -> Vec<u8> {
        let nonce = ChaCha20Poly1305::generate_nonce(&mut OsRng);
        let mut out = nonce.to_vec();
        out.extend(
            self.cipher
                .encrypt(&nonce, plaintext)
                .expect("ChaCha20-Poly1305 encrypts any message that fits in memory"),
        );
        out
    }

    /// The plaintext, or `None` when the data was sealed under another key or altered.
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < NONCE_LEN {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        self.cipher.decrypt(Nonce::from_slice(nonce), ciphertext).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn boxed(key: &str) -> SecretBox {
        SecretBox::new(&SecretString::from(key.to_owned())).unwrap()
    }

    #[test]
    fn sealed_secrets_open_only_under_their_key() {
        let a = boxed("0123456789abcdef0123456789abcdef");
        let b = boxed("fedcba9876543210fedcba9876543210");
        let sealed = a.seal(b"hunter2");
        assert_ne!(&sealed[NONCE_LEN..], b"hunter2");
        assert_eq!(a.open(&sealed).as_deref(), Some(&b"hunter2"[..]));
        assert_eq!(b.open(&sealed), None);
        let mut tampered = sealed.clone();
        *tampered.last_mut().unwrap() ^= 1;
        assert_eq!(a.open(&tampered), None);
        assert_eq!(a.open(b"short"), None);
        assert_ne!(a.seal(b"hunter2"), sealed, "every seal has its own nonce");
    }

    #[test]
    fn short_keys_are_refused() {
        assert!(SecretBox::new(&SecretString::from("too short".to_owned())).is_err());
    }
}
