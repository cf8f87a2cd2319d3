//! A GGUF header reader: checks that a file is GGUF, not truncated in its metadata, and reads the
//! string metadata Warden needs (architecture, chat template, special tokens) before llama.cpp
//! ever sees the file. llama.cpp aborts the process on some malformed inputs; this check turns
//! those into errors.
//!
//! It is its own crate, with no llama.cpp dependency, so it can be fuzzed and reused without
//! building llama.cpp; `warden-runtime` re-exports it as `warden_runtime::gguf`.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufReader, Read};
use std::path::Path;

/// A model file that is missing, not GGUF, truncated or corrupt; the message names the file and
/// what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct GgufError(pub String);

const MAGIC: &[u8; 4] = b"GGUF";
/// Metadata strings or arrays larger than this are refused as corrupt.
const MAX_STRING: u64 = 64 << 20;
const MAX_ARRAY: u64 = 16 << 20;

/// What the header says.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GgufInfo {
    pub version: u32,
    pub tensor_count: u64,
    /// String-valued metadata (numbers are kept as their decimal text).
    pub metadata: BTreeMap<String, String>,
}

impl GgufInfo {
    /// `general.architecture`.
    pub fn architecture(&self) -> Option<&str> {
        self.metadata
            .get("general.architecture")
            .map(String::as_str)
    }

    /// `tokenizer.chat_template`.
    pub fn chat_template(&self) -> Option<&str> {
        self.metadata
            .get("tokenizer.chat_template")
            .map(String::as_str)
    }
}

struct Reader<R> {
    inner: R,
    path: String,
}

impl<R: Read> Reader<R> {
    fn bytes<const N: usize>(&mut self) -> Result<[u8; N], GgufError> {
        let mut buf = [0u8; N];
        self.inner.read_exact(&mut buf).map_err(|e| self.fail(e))?;
        Ok(buf)
    }

    fn fail(&self, error: std::io::Error) -> GgufError {
        if error.kind() == std::io::ErrorKind::UnexpectedEof {
            GgufError(format!(
                "{} is truncated: it ends inside its GGUF metadata",
                self.path
            ))
        } else {
            GgufError(format!("cannot read {}: {error}", self.path))
        }
    }

    fn u32(&mut self) -> Result<u32, GgufError> {
        Ok(u32::from_le_bytes(self.bytes()?))
    }

    fn u64(&mut self) -> Result<u64, GgufError> {
        Ok(u64::from_le_bytes(self.bytes()?))
    }

    fn string(&mut self) -> Result<String, GgufError> {
        let len = self.u64()?;
        if len > MAX_STRING {
            return Err(GgufError(format!(
                "{}: a metadata string claims {len} bytes",
                self.path
            )));
        }
        // Read through `take` rather than into a buffer of the claimed size, so a short file
        // claiming a 64 MiB string costs only the bytes it has.
        let mut buf = Vec::new();
        (&mut self.inner)
            .take(len)
            .read_to_end(&mut buf)
            .map_err(|e| self.fail(e))?;
        if (buf.len() as u64) < len {
            return Err(self.fail(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(String::from_utf8_lossy(&buf).into_owned())
    }

    fn skip(&mut self, len: u64) -> Result<(), GgufError> {
        let copied = std::io::copy(&mut (&mut self.inner).take(len), &mut std::io::sink())
            .map_err(|e| self.fail(e))?;
        if copied < len {
            return Err(self.fail(std::io::ErrorKind::UnexpectedEof.into()));
        }
        Ok(())
    }

    /// Read one value of GGUF type `kind`; scalars and strings come back as text.
    fn value(&mut self, kind: u32) -> Result<Option<String>, GgufError> {
        Ok(match kind {
            0 => Some(u8::from_le_bytes(self.bytes()?).to_string()),
            1 => Some(i8::from_le_bytes(self.bytes()?).to_string()),
            2 => Some(u16::from_le_bytes(self.bytes()?).to_string()),
            3 => Some(i16::from_le_bytes(self.bytes()?).to_string()),
            4 => Some(self.u32()?.to_string()),
            5 => Some(i32::from_le_bytes(self.bytes()?).to_string()),
            6 => Some(f32::from_le_bytes(self.bytes()?).to_string()),
            7 => Some((u8::from_le_bytes(self.bytes()?) != 0).to_string()),
            8 => Some(self.string()?),
            9 => {
                let element = self.u32()?;
                let count = self.u64()?;
                if count > MAX_ARRAY {
                    return Err(GgufError(format!(
                        "{}: a metadata array claims {count} elements",
                        self.path
                    )));
                }
                match element_size(element) {
                    Some(size) => self.skip(count * size)?,
                    None if element == 8 => {
                        for _ in 0..count {
                            let len = self.u64()?;
                            self.skip(len)?;
                        }
                    }
                    None => {
                        return Err(GgufError(format!(
                            "{}: unsupported GGUF array element type {element}",
                            self.path
                        )));
                    }
                }
                None
            }
            10 => Some(self.u64()?.to_string()),
            11 => Some(i64::from_le_bytes(self.bytes()?).to_string()),
            12 => Some(f64::from_le_bytes(self.bytes()?).to_string()),
            other => {
                return Err(GgufError(format!(
                    "{}: unknown GGUF value type {other}",
                    self.path
                )));
            }
        })
    }
}

fn element_size(kind: u32) -> Option<u64> {
    match kind {
        0 | 1 | 7 => Some(1),
        2 | 3 => Some(2),
        4..=6 => Some(4),
        10..=12 => Some(8),
        _ => None,
    }
}

/// Read and check the header and metadata of the GGUF file at `path`.
pub fn read_info(path: &Path) -> Result<GgufInfo, GgufError> {
    let shown = path.display().to_string();
    let file =
        File::open(path).map_err(|e| GgufError(format!("cannot open model {shown}: {e}")))?;
    let file_len = file.metadata().map(|m| m.len()).unwrap_or(0);
    read_info_from(BufReader::with_capacity(1 << 20, file), &shown, file_len)
}

/// Read and check a GGUF header and metadata from `input`, a file of `file_len` bytes called
/// `name` in messages. Pure apart from reading `input`: this is what the fuzz target drives.
pub fn read_info_from<R: Read>(input: R, name: &str, file_len: u64) -> Result<GgufInfo, GgufError> {
    let shown = name.to_owned();
    let mut reader = Reader {
        inner: input,
        path: shown.clone(),
    };
    let magic: [u8; 4] = reader.bytes()?;
    if &magic != MAGIC {
        return Err(GgufError(format!(
            "{shown} is not a GGUF model (it does not start with \"GGUF\")"
        )));
    }
    let version = reader.u32()?;
    if !(2..=3).contains(&version) {
        return Err(GgufError(format!(
            "{shown} uses GGUF version {version}; versions 2 and 3 are supported"
        )));
    }
    let tensor_count = reader.u64()?;
    let kv_count = reader.u64()?;
    if kv_count > 1 << 20 || tensor_count > 1 << 24 {
        return Err(GgufError(format!(
            "{shown}: implausible GGUF header ({tensor_count} tensors, {kv_count} metadata keys)"
        )));
    }
    let mut metadata = BTreeMap::new();
    for _ in 0..kv_count {
        let key = reader.string()?;
        let kind = reader.u32()?;
        if let Some(value) = reader.value(kind)? {
            metadata.insert(key, value);
        }
    }
    // Tensor infos follow; the tensor data must at least exist. A file cut inside its tensor data
    // is caught here by size: each tensor needs data after the header.
    if tensor_count > 0 && file_len < 1024 {
        return Err(GgufError(format!(
            "{shown} is truncated: it holds no tensor data"
        )));
    }
    Ok(GgufInfo {
        version,
        tensor_count,
        metadata,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn string(out: &mut Vec<u8>, text: &str) {
        out.extend_from_slice(&(text.len() as u64).to_le_bytes());
        out.extend_from_slice(text.as_bytes());
    }

    fn header(kvs: &[(&str, &str)]) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend_from_slice(&3u32.to_le_bytes());
        out.extend_from_slice(&0u64.to_le_bytes());
        out.extend_from_slice(&(kvs.len() as u64 + 1).to_le_bytes());
        for (key, value) in kvs {
            string(&mut out, key);
            out.extend_from_slice(&8u32.to_le_bytes());
            string(&mut out, value);
        }
        string(&mut out, "tokenizer.ggml.scores");
        out.extend_from_slice(&9u32.to_le_bytes());
        out.extend_from_slice(&6u32.to_le_bytes());
        out.extend_from_slice(&3u64.to_le_bytes());
        out.extend_from_slice(&[0u8; 12]);
        out
    }

    #[test]
    fn reads_string_metadata_and_skips_arrays() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(
            &path,
            header(&[
                ("general.architecture", "llama"),
                ("tokenizer.chat_template", "{{x}}"),
            ]),
        )
        .unwrap();
        let info = read_info(&path).unwrap();
        assert_eq!(info.architecture(), Some("llama"));
        assert_eq!(info.chat_template(), Some("{{x}}"));
    }

    #[test]
    fn bad_files_are_named_errors() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.gguf");
        std::fs::write(&path, b"PK\x03\x04 not a model").unwrap();
        assert!(
            read_info(&path)
                .unwrap_err()
                .to_string()
                .contains("not a GGUF model")
        );
        let full = header(&[("general.architecture", "llama")]);
        std::fs::write(&path, &full[..full.len() - 5]).unwrap();
        assert!(
            read_info(&path)
                .unwrap_err()
                .to_string()
                .contains("truncated")
        );
        assert!(
            read_info(&dir.path().join("missing.gguf"))
                .unwrap_err()
                .to_string()
                .contains("cannot open")
        );
    }
}
