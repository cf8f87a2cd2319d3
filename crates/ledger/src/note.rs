//! C2SP signed notes and tlog checkpoints, with Ed25519 keys in the Go `sumdb/note` text forms.
//!
//! A checkpoint is the note body `origin\nsize\nbase64(root)\n`; the signature line is
//! `— <key name> base64(key id || signature)` where the key id is the first four bytes of
//! `SHA-256(name || 0x0A || 0x01 || public key)`. Keys are shared as verifier keys
//! (`name+hexid+base64(0x01 || public key)`) and stored as `PRIVATE+KEY+name+hexid+base64(0x01 || seed)`,
//! so Go's `note` package and other C2SP tools read them unchanged.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use warden_core::hex::encode as encode_hex;

use crate::merkle::Hash;

const ED25519_TYPE: u8 = 0x01;
const SIGNATURE_PREFIX: &str = "\u{2014} ";
const PRIVATE_PREFIX: &str = "PRIVATE+KEY+";

/// What is wrong with a key, note or checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed key: {0}")]
    BadKey(&'static str),
    #[error("key name `{0}` is invalid: it must be non-empty and contain no spaces or `+`")]
    BadName(String),
    #[error("malformed signed note: {0}")]
    Malformed(&'static str),
    #[error("the note carries no signature by key `{0}`")]
    NoSignature(String),
    #[error(
        "the signature by key `{0}` does not verify: the note was altered or signed by another key"
    )]
    BadSignature(String),
    #[error("malformed checkpoint: {0}")]
    BadCheckpoint(&'static str),
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || c == '+')
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update([b'\n', ED25519_TYPE]);
    hasher.update(public.as_bytes());
    let digest = hasher.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// An Ed25519 signing key with its note name.
pub struct NoteSigner {
    name: String,
    key: SigningKey,
}

impl std::fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// A fresh key from the operating system's random source.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        if !valid_name(name) {
            return Err(NoteError::BadName(name.to_owned()));
        }
        let mut seed = [0u8; 32];
        getrandom::getrandom(&mut seed)
            .map_err(|_| NoteError::BadKey("the OS random source failed"))?;
        Ok(Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Parse `PRIVATE+KEY+name+hexid+base64(0x01 || seed)`.
    pub fn from_private_key(text: &str) -> Result<Self, NoteError> {
        let rest = text
            .trim()
            .strip_prefix(PRIVATE_PREFIX)
            .ok_or(NoteError::BadKey("missing PRIVATE+KEY+ prefix"))?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(id), Some(material), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKey("expected PRIVATE+KEY+name+id+key"));
        };
        let bytes = BASE64
            .decode(material)
            .map_err(|_| NoteError::BadKey("key material is not base64"))?;
        let Some((&ED25519_TYPE, seed)) = bytes.split_first() else {
            return Err(NoteError::BadKey(
                "only Ed25519 keys (type 0x01) are supported",
            ));
        };
        let seed: [u8; 32] = seed
            .try_into()
            .map_err(|_| NoteError::BadKey("Ed25519 seed must be 32 bytes"))?;
        let signer = Self {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        };
        if !valid_name(name) {
            return Err(NoteError::BadName(name.to_owned()));
        }
        if encode_hex(&key_id(name, &signer.key.verifying_key())) != id {
            return Err(NoteError::BadKey("key id does not match the key"));
        }
        Ok(signer)
    }

    /// The private key text. Keep it secret.
    pub fn private_key(&self) -> String {
        let mut material = vec![ED25519_TYPE];
        material.extend_from_slice(self.key.as_bytes());
        format!(
            "{PRIVATE_PREFIX}{}+{}+{}",
            self.name,
            encode_hex(&key_id(&self.name, &self.key.verifying_key())),
            BASE64.encode(material)
        )
    }

    /// The matching verifier.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Sign `body` (which must end in a newline and hold no blank line) into a signed note.
    pub fn sign(&self, body: &str) -> Result<String, NoteError> {
        if !body.ends_with('\n') || body.contains("\n\n") || body.is_empty() {
            return Err(NoteError::Malformed(
                "note text must be non-empty, end in a newline and hold no blank line",
            ));
        }
        let signature: Signature = self.key.sign(body.as_bytes());
        let mut blob = key_id(&self.name, &self.key.verifying_key()).to_vec();
        blob.extend_from_slice(&signature.to_bytes());
        Ok(format!(
            "{body}\n{SIGNATURE_PREFIX}{} {}\n",
            self.name,
            BASE64.encode(blob)
        ))
    }
}

/// An Ed25519 verifier key with its note name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    key: VerifyingKey,
}

impl NoteVerifier {
    /// Parse `name+hexid+base64(0x01 || public key)`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let mut parts = text.trim().splitn(3, '+');
        let (Some(name), Some(id), Some(material), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::BadKey(
                "expected a verifier key of the form name+id+key",
            ));
        };
        if !valid_name(name) {
            return Err(NoteError::BadName(name.to_owned()));
        }
        let bytes = BASE64
            .decode(material)
            .map_err(|_| NoteError::BadKey("key material is not base64"))?;
        let Some((&ED25519_TYPE, public)) = bytes.split_first() else {
            return Err(NoteError::BadKey(
                "only Ed25519 keys (type 0x01) are supported",
            ));
        };
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::BadKey("Ed25519 public key must be 32 bytes"))?;
        let key = VerifyingKey::from_bytes(&public)
            .map_err(|_| NoteError::BadKey("not a valid Ed25519 point"))?;
        if encode_hex(&key_id(name, &key)) != id {
            return Err(NoteError::BadKey("key id does not match the key"));
        }
        Ok(Self {
            name: name.to_owned(),
            key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Open a signed note: check this key's signature and return the signed text.
    pub fn open<'a>(&self, note: &'a str) -> Result<&'a str, NoteError> {
        let split = note
            .rfind("\n\n")
            .ok_or(NoteError::Malformed("no blank line before the signatures"))?;
        let (body, signatures) = (&note[..split + 1], &note[split + 2..]);
        if !signatures.ends_with('\n') {
            return Err(NoteError::Malformed(
                "signature block must end in a newline",
            ));
        }
        let id = key_id(&self.name, &self.key);
        for line in signatures.lines() {
            let rest = line
                .strip_prefix(SIGNATURE_PREFIX)
                .ok_or(NoteError::Malformed(
                    "signature line must start with an em dash",
                ))?;
            let (name, blob) = rest.split_once(' ').ok_or(NoteError::Malformed(
                "signature line needs a name and a signature",
            ))?;
            if name != self.name {
                continue;
            }
            let blob = BASE64
                .decode(blob)
                .map_err(|_| NoteError::Malformed("signature is not base64"))?;
            if blob.len() != 4 + 64 || blob[..4] != id {
                continue;
            }
            let signature = Signature::from_slice(&blob[4..])
                .map_err(|_| NoteError::Malformed("bad signature bytes"))?;
            return self
                .key
                .verify_strict(body.as_bytes(), &signature)
                .map(|()| body)
                .map_err(|_| NoteError::BadSignature(self.name.clone()));
        }
        Err(NoteError::NoSignature(self.name.clone()))
    }
}

impl std::fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut material = vec![ED25519_TYPE];
        material.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            encode_hex(&key_id(&self.name, &self.key)),
            BASE64.encode(material)
        )
    }
}

/// A tlog checkpoint: the log's origin, its size and its root.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's unique name (C2SP: a schema-less URL).
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// Merkle root over those entries.
    pub root: Hash,
}

impl Checkpoint {
    /// The note body: `origin\nsize\nbase64(root)\n`.
    pub fn body(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            BASE64.encode(self.root)
        )
    }

    /// Parse a checkpoint body (extension lines after the root are allowed and ignored).
    pub fn parse_body(body: &str) -> Result<Self, NoteError> {
        let mut lines = body.split('\n');
        let origin = lines
            .next()
            .filter(|o| !o.is_empty())
            .ok_or(NoteError::BadCheckpoint("missing origin line"))?;
        let size_line = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("missing tree size line"))?;
        if size_line.is_empty() || (size_line.len() > 1 && size_line.starts_with('0')) {
            return Err(NoteError::BadCheckpoint(
                "tree size must be a decimal number without leading zeros",
            ));
        }
        let size = size_line
            .parse()
            .map_err(|_| NoteError::BadCheckpoint("tree size is not a number"))?;
        let root_line = lines
            .next()
            .ok_or(NoteError::BadCheckpoint("missing root hash line"))?;
        let root = BASE64
            .decode(root_line)
            .map_err(|_| NoteError::BadCheckpoint("root hash is not base64"))?;
        let root: Hash = root
            .try_into()
            .map_err(|_| NoteError::BadCheckpoint("root hash must be 32 bytes"))?;
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
        })
    }

    /// Verify a signed checkpoint note with `verifier`, and check it names `origin` when given.
    pub fn open(
        note: &str,
        verifier: &NoteVerifier,
        origin: Option<&str>,
    ) -> Result<Self, NoteError> {
        let checkpoint = Self::parse_body(verifier.open(note)?)?;
        if origin.is_some_and(|expected| expected != checkpoint.origin) {
            return Err(NoteError::BadCheckpoint(
                "the checkpoint names another log's origin",
            ));
        }
        Ok(checkpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_their_text_forms() {
        let signer = NoteSigner::generate("warden.example/log").unwrap();
        let again = NoteSigner::from_private_key(&signer.private_key()).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        let verifier = NoteVerifier::parse(&signer.verifier().to_string()).unwrap();
        assert_eq!(verifier, signer.verifier());
    }

    #[test]
    fn go_note_verifier_key_is_accepted() {
        // The example key from Go's golang.org/x/mod/sumdb/note documentation.
        let text = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
        let verifier = NoteVerifier::parse(text).unwrap();
        assert_eq!(verifier.to_string(), text);
        let signed = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n\n\u{2014} PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
        assert_eq!(
            verifier.open(signed).unwrap(),
            "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
        );
    }

    #[test]
    fn signed_checkpoint_opens_and_detects_tampering() {
        let signer = NoteSigner::generate("warden.example/log").unwrap();
        let checkpoint = Checkpoint {
            origin: "warden.example/log".into(),
            size: 42,
            root: [7; 32],
        };
        let note = signer.sign(&checkpoint.body()).unwrap();
        assert_eq!(
            Checkpoint::open(&note, &signer.verifier(), Some("warden.example/log")).unwrap(),
            checkpoint
        );
        let tampered = note.replacen("42", "43", 1);
        assert_eq!(
            Checkpoint::open(&tampered, &signer.verifier(), None),
            Err(NoteError::BadSignature("warden.example/log".into()))
        );
        let stranger = NoteSigner::generate("warden.example/log").unwrap();
        assert!(matches!(
            Checkpoint::open(&note, &stranger.verifier(), None),
            Err(NoteError::NoSignature(_))
        ));
        assert!(Checkpoint::open(&note, &signer.verifier(), Some("other")).is_err());
    }

    #[test]
    fn malformed_inputs_are_errors_not_panics() {
        for bad in [
            "",
            "x",
            "PRIVATE+KEY+a+b",
            "a+b+c",
            "a+00000000+AQ==",
            "a b+00+AQ==",
        ] {
            assert!(NoteVerifier::parse(bad).is_err(), "{bad}");
            assert!(NoteSigner::from_private_key(bad).is_err(), "{bad}");
        }
        let verifier = NoteSigner::generate("k").unwrap().verifier();
        for bad in [
            "",
            "a\n",
            "a\n\n",
            "a\n\nno dash\n",
            "a\n\n\u{2014} k !!!\n",
        ] {
            assert!(verifier.open(bad).is_err(), "{bad:?}");
        }
        for bad in ["", "o\n", "o\nx\n", "o\n01\nAA==\n", "o\n1\nAA==\n"] {
            assert!(Checkpoint::parse_body(bad).is_err(), "{bad:?}");
        }
    }
}
