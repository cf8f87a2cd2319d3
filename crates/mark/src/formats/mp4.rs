//! MP4, M4A and MOV (ISO base media) labels: the TC260 video guide (20257A) puts the implicit
//! label in QuickTime metadata, `moov/udta/meta` with handler `mdta`, key `AIGC` in the `keys`
//! box (namespace `mdta`, stored as `mdtaAIGC`) and the JSON in the matching `ilst` item (the item
//! box type is the 1-based key index; its `data` box has type 1, UTF-8, locale 0). This is the
//! layout `ffmpeg -movflags use_metadata_tags -metadata AIGC=…` writes.
//!
//! - [`read`] walks the top-level boxes (seeking over `mdat`), loads `moov` (at most 64 MiB) and
//!   returns the value of every `AIGC` key of every `mdta` meta in `moov/udta` or `moov`.
//! - [`write`] copies every top-level box except `moov` byte for byte (media is streamed in
//!   bounded buffers) and rebuilds `moov` in place: if an `mdta` meta exists (in `udta` first,
//!   else directly in `moov`) its `AIGC` keys are removed, the remaining keys keep their order,
//!   `ilst` items are renumbered to match, and one new `AIGC` key and item are appended; otherwise
//!   a new `meta` is appended to `udta` (created when missing). Every other box, including an
//!   iTunes-style `meta` (`hdlr mdir`), is kept byte for byte. When `moov` changes size, every
//!   chunk offset in `trak/mdia/minf/stbl` (`stco`, `co64`, and `saio` file offsets) that points
//!   past the old `moov` is moved by the size change, so files with `moov` before `mdat`
//!   (faststart) stay playable; a 32-bit `stco` entry that would overflow is an error.
//!
//! 64-bit box sizes and a final top-level box with size 0 (to the end of the file) are handled.
//! `ilst` items whose index names no key are dropped, since no reader can name them.
//!
//! Out of scope: fragmented files with `moof`/`mfra` after `moov` when `moov` changes size
//! ([`MarkError::Unsupported`]; their offsets are not rewritten), `moov` larger than 64 MiB,
//! iTunes `----` freeform items, per-track metadata, and offsets in boxes other than those above.

use std::io::{Read, Seek, SeekFrom, Write};

use crate::error::MarkError;

const FORMAT: &str = "MP4";
/// The largest `moov` loaded into memory.
const MAX_MOOV: u64 = 64 << 20;
/// The most top-level boxes walked; a playable file has a handful.
const MAX_TOP_LEVEL: usize = 100_000;
const NAMESPACE: [u8; 4] = *b"mdta";
const KEY: &[u8] = b"AIGC";
/// `data` box well-known types.
const TYPE_UTF8: u32 = 1;
const TYPE_UTF16: u32 = 2;

fn name(kind: [u8; 4]) -> String {
    String::from_utf8_lossy(&kind).into_owned()
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let b = bytes.get(at..at.checked_add(4)?)?;
    Some(u32::from_be_bytes([
        *b.first()?,
        *b.get(1)?,
        *b.get(2)?,
        *b.get(3)?,
    ]))
}

fn be_u64(bytes: &[u8], at: usize) -> Option<u64> {
    let high = be_u32(bytes, at)?;
    let low = be_u32(bytes, at.checked_add(4)?)?;
    Some((u64::from(high) << 32) | u64::from(low))
}

fn kind_at(bytes: &[u8], at: usize) -> Option<[u8; 4]> {
    be_u32(bytes, at).map(u32::to_be_bytes)
}

/// A top-level box in the file.
struct TopBox {
    offset: u64,
    kind: [u8; 4],
    /// Total size, header included.
    size: u64,
}

/// Walk the top-level boxes.
fn top_level<R: Read + Seek>(input: &mut R) -> Result<Vec<TopBox>, MarkError> {
    let file_len = input.seek(SeekFrom::End(0))?;
    let mut boxes = Vec::new();
    let mut offset = 0u64;
    while offset < file_len {
        if boxes.len() >= MAX_TOP_LEVEL {
            return Err(MarkError::Unsupported(format!(
                "an MP4 with more than {MAX_TOP_LEVEL} top-level boxes"
            )));
        }
        if file_len - offset < 8 {
            return Err(MarkError::truncated(
                FORMAT,
                format!("box header at offset {offset} is cut off"),
            ));
        }
        input.seek(SeekFrom::Start(offset))?;
        let mut header = [0u8; 8];
        input
            .read_exact(&mut header)
            .map_err(|e| MarkError::from_read(FORMAT, e))?;
        let [s0, s1, s2, s3, k0, k1, k2, k3] = header;
        let kind = [k0, k1, k2, k3];
        let (header_len, size) = match u32::from_be_bytes([s0, s1, s2, s3]) {
            0 => (8, file_len - offset),
            1 => {
                let mut large = [0u8; 8];
                input
                    .read_exact(&mut large)
                    .map_err(|e| MarkError::from_read(FORMAT, e))?;
                (16, u64::from_be_bytes(large))
            }
            n => (8, u64::from(n)),
        };
        if size < header_len {
            return Err(MarkError::corrupt(
                FORMAT,
                format!(
                    "box '{}' at offset {offset} declares size {size}, smaller than its header",
                    name(kind)
                ),
            ));
        }
        if size > file_len - offset {
            return Err(MarkError::truncated(
                FORMAT,
                format!(
                    "box '{}' at offset {offset} declares {size} bytes but the file ends at {file_len}",
                    name(kind)
                ),
            ));
        }
        boxes.push(TopBox { offset, kind, size });
        offset += size;
    }
    Ok(boxes)
}

/// Find the one `moov` box and load it.
fn load_moov<'a, R: Read + Seek>(
    input: &mut R,
    boxes: &'a [TopBox],
) -> Result<(&'a TopBox, Vec<u8>), MarkError> {
    let mut moovs = boxes.iter().filter(|b| &b.kind == b"moov");
    let moov = moovs
        .next()
        .ok_or_else(|| MarkError::corrupt(FORMAT, "no moov box"))?;
    if let Some(second) = moovs.next() {
        return Err(MarkError::corrupt(
            FORMAT,
            format!("a second moov box at offset {}", second.offset),
        ));
    }
    if moov.size > MAX_MOOV {
        return Err(MarkError::Unsupported(format!(
            "an MP4 whose moov box is {} bytes; Warden loads moov boxes up to {MAX_MOOV} bytes",
            moov.size
        )));
    }
    input.seek(SeekFrom::Start(moov.offset))?;
    let mut bytes = Vec::new();
    (&mut *input).take(moov.size).read_to_end(&mut bytes)?;
    if bytes.len() as u64 != moov.size {
        return Err(MarkError::truncated(
            FORMAT,
            format!("moov box at offset {} is cut off", moov.offset),
        ));
    }
    Ok((moov, bytes))
}

/// A box inside a buffer: `start..end` is the whole box, `body` where its payload starts.
#[derive(Clone, Copy)]
struct Child {
    kind: [u8; 4],
    start: usize,
    body: usize,
    end: usize,
}

/// The boxes in `buf[from..to]`, and where they stop (zero bytes after them are a QuickTime
/// terminator, kept as they are). `base` is the file offset of `buf[0]`, for messages.
fn children(
    buf: &[u8],
    from: usize,
    to: usize,
    base: u64,
    parent: &str,
) -> Result<(Vec<Child>, usize), MarkError> {
    let mut out = Vec::new();
    let mut pos = from;
    while pos < to {
        let rest = buf.get(pos..to).unwrap_or_default();
        if rest.iter().all(|&b| b == 0) {
            break;
        }
        let at = base + pos as u64;
        let corrupt = |what: String| {
            MarkError::corrupt(FORMAT, format!("{what} at offset {at} in '{parent}'"))
        };
        let (Some(size), Some(kind)) = (be_u32(buf, pos), kind_at(buf, pos + 4)) else {
            return Err(corrupt("a cut-off box header".into()));
        };
        let (body, size) = match size {
            1 => {
                let large = be_u64(buf, pos + 8)
                    .ok_or_else(|| corrupt("a cut-off 64-bit box size".into()))?;
                (pos + 16, usize::try_from(large).unwrap_or(usize::MAX))
            }
            n => (pos + 8, n as usize),
        };
        let end = pos
            .checked_add(size)
            .filter(|&e| e <= to && e >= body)
            .ok_or_else(|| {
                corrupt(format!(
                    "box '{}' with size {size}, outside its parent",
                    name(kind)
                ))
            })?;
        out.push(Child {
            kind,
            start: pos,
            body,
            end,
        });
        pos = end;
    }
    Ok((out, pos))
}

/// The children of a box, after skipping `skip` payload bytes (version and flags).
fn children_of(
    buf: &[u8],
    parent: &Child,
    skip: usize,
    base: u64,
) -> Result<(Vec<Child>, usize), MarkError> {
    let from = parent.body.saturating_add(skip).min(parent.end);
    children(buf, from, parent.end, base, &name(parent.kind))
}

/// Bytes of a `meta` payload before its children: 4 for an ISO full box (version and flags,
/// always zero), 0 for the QuickTime form whose first child follows the header directly.
fn meta_prefix(buf: &[u8], meta: &Child) -> usize {
    match buf.get(meta.body..meta.body.saturating_add(4).min(meta.end)) {
        Some([0, 0, 0, 0]) => 4,
        _ => 0,
    }
}

/// True when `meta`'s `hdlr` names the `mdta` handler.
fn is_mdta_meta(buf: &[u8], meta: &Child, base: u64) -> Result<bool, MarkError> {
    let (kids, _) = children_of(buf, meta, meta_prefix(buf, meta), base)?;
    Ok(kids.iter().any(|k| {
        &k.kind == b"hdlr" && k.body + 12 <= k.end && kind_at(buf, k.body + 8) == Some(NAMESPACE)
    }))
}

/// One `keys` entry: namespace, name and the raw entry bytes.
struct Key<'a> {
    namespace: [u8; 4],
    name: &'a [u8],
    raw: &'a [u8],
}

impl Key<'_> {
    fn is_label(&self) -> bool {
        self.namespace == NAMESPACE && self.name == KEY
    }
}

fn parse_keys<'a>(buf: &'a [u8], keys: &Child, base: u64) -> Result<Vec<Key<'a>>, MarkError> {
    let at = base + keys.start as u64;
    let corrupt =
        |what: &str| MarkError::corrupt(FORMAT, format!("keys box at offset {at}: {what}"));
    let count = be_u32(buf, keys.body + 4)
        .filter(|_| keys.body + 8 <= keys.end)
        .ok_or_else(|| corrupt("cut off"))?;
    let mut pos = keys.body + 8;
    let mut out = Vec::new();
    for _ in 0..count {
        let size = be_u32(buf, pos)
            .filter(|_| pos + 8 <= keys.end)
            .ok_or_else(|| corrupt("fewer keys than its count"))?;
        let end = pos
            .checked_add(size as usize)
            .filter(|&e| size >= 8 && e <= keys.end)
            .ok_or_else(|| corrupt("a key size outside the box"))?;
        let namespace = kind_at(buf, pos + 4).ok_or_else(|| corrupt("cut off"))?;
        let name = buf.get(pos + 8..end).unwrap_or_default();
        let raw = buf.get(pos..end).unwrap_or_default();
        out.push(Key {
            namespace,
            name,
            raw,
        });
        pos = end;
    }
    Ok(out)
}

/// The `keys` and `ilst` boxes of a meta; more than one of either is corrupt.
fn keys_and_ilst(kids: &[Child], base: u64) -> Result<(Option<Child>, Option<Child>), MarkError> {
    let mut keys = None;
    let mut ilst = None;
    for kid in kids {
        let slot = match &kid.kind {
            b"keys" => &mut keys,
            b"ilst" => &mut ilst,
            _ => continue,
        };
        if slot.is_some() {
            return Err(MarkError::corrupt(
                FORMAT,
                format!(
                    "a second '{}' box at offset {} in one meta",
                    name(kid.kind),
                    base + kid.start as u64
                ),
            ));
        }
        *slot = Some(*kid);
    }
    Ok((keys, ilst))
}

/// The text of every `data` box in an `ilst` item.
fn item_values(buf: &[u8], item: &Child, base: u64) -> Result<Vec<String>, MarkError> {
    let (kids, _) = children_of(buf, item, 0, base)?;
    let mut values = Vec::new();
    for data in kids.iter().filter(|k| &k.kind == b"data") {
        let at = base + data.start as u64;
        let kind = be_u32(buf, data.body)
            .filter(|_| data.body + 8 <= data.end)
            .ok_or_else(|| {
                MarkError::corrupt(FORMAT, format!("data box at offset {at} is cut off"))
            })?
            & 0x00FF_FFFF;
        let bytes = buf.get(data.body + 8..data.end).unwrap_or_default();
        let text = match kind {
            TYPE_UTF8 => String::from_utf8(bytes.to_vec()).ok(),
            TYPE_UTF16 => {
                let units = bytes.chunks_exact(2).map(|p| match p {
                    [a, b] => u16::from_be_bytes([*a, *b]),
                    _ => 0,
                });
                char::decode_utf16(units)
                    .collect::<Result<String, _>>()
                    .ok()
                    .filter(|_| bytes.len().is_multiple_of(2))
            }
            _ => continue,
        };
        values.push(text.ok_or_else(|| {
            MarkError::corrupt(FORMAT, format!("data box at offset {at} is not valid text"))
        })?);
    }
    Ok(values)
}

/// Every (key, value) of an `mdta` meta, in `ilst` order.
fn meta_items(buf: &[u8], meta: &Child, base: u64) -> Result<Vec<(String, String)>, MarkError> {
    let (kids, _) = children_of(buf, meta, meta_prefix(buf, meta), base)?;
    let (Some(keys), Some(ilst)) = keys_and_ilst(&kids, base)? else {
        return Ok(Vec::new());
    };
    let keys = parse_keys(buf, &keys, base)?;
    let (items, _) = children_of(buf, &ilst, 0, base)?;
    let mut out = Vec::new();
    for item in &items {
        let index = u32::from_be_bytes(item.kind) as usize;
        let Some(key) = index.checked_sub(1).and_then(|i| keys.get(i)) else {
            continue;
        };
        let label = if key.is_label() {
            "AIGC".to_string()
        } else {
            String::from_utf8_lossy(key.name).into_owned()
        };
        for value in item_values(buf, item, base)? {
            out.push((label.clone(), value));
        }
    }
    Ok(out)
}

/// Every `mdta` meta in `moov` (whole box in `moov`): those in `udta` first, then direct ones.
fn mdta_metas(moov: &[u8], base: u64) -> Result<Vec<Child>, MarkError> {
    let (kids, _) = children(moov, moov_body(moov), moov.len(), base, "moov")?;
    let mut metas = Vec::new();
    for udta in kids.iter().filter(|k| &k.kind == b"udta") {
        let (inner, _) = children_of(moov, udta, 0, base)?;
        for meta in inner.iter().filter(|k| &k.kind == b"meta") {
            if is_mdta_meta(moov, meta, base)? {
                metas.push(*meta);
            }
        }
    }
    for meta in kids.iter().filter(|k| &k.kind == b"meta") {
        if is_mdta_meta(moov, meta, base)? {
            metas.push(*meta);
        }
    }
    Ok(metas)
}

/// Where `moov`'s payload starts: after an 8- or 16-byte header.
fn moov_body(moov: &[u8]) -> usize {
    if be_u32(moov, 0) == Some(1) { 16 } else { 8 }
}

/// Every (key, value) in the `mdta` metadata of a loaded `moov`.
fn moov_items(moov: &[u8], base: u64) -> Result<Vec<(String, String)>, MarkError> {
    let mut out = Vec::new();
    for meta in mdta_metas(moov, base)? {
        out.extend(meta_items(moov, &meta, base)?);
    }
    Ok(out)
}

/// Every label value in the file: each `AIGC` item of the `mdta` metadata in `moov`.
pub fn read<R: Read + Seek>(input: &mut R) -> Result<Vec<String>, MarkError> {
    let boxes = top_level(input)?;
    let (moov, bytes) = load_moov(input, &boxes)?;
    Ok(moov_items(&bytes, moov.offset)?
        .into_iter()
        .filter(|(k, _)| k == "AIGC")
        .map(|(_, v)| v)
        .collect())
}

/// A box with a 32-bit size.
fn boxed(kind: &[u8; 4], parts: &[&[u8]]) -> Result<Vec<u8>, MarkError> {
    let len: usize = parts.iter().map(|p| p.len()).sum();
    let size = u32::try_from(len + 8)
        .map_err(|_| MarkError::Unsupported(format!("an MP4 '{}' box over 4 GiB", name(*kind))))?;
    let mut out = Vec::with_capacity(len + 8);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(kind);
    for part in parts {
        out.extend_from_slice(part);
    }
    Ok(out)
}

fn slice(buf: &[u8], from: usize, to: usize) -> &[u8] {
    buf.get(from..to).unwrap_or_default()
}

fn label_key() -> Vec<u8> {
    let mut key = 12u32.to_be_bytes().to_vec();
    key.extend_from_slice(&NAMESPACE);
    key.extend_from_slice(KEY);
    key
}

fn label_item(index: u32, value: &str) -> Result<Vec<u8>, MarkError> {
    let data = boxed(
        b"data",
        &[&TYPE_UTF8.to_be_bytes(), &[0; 4], value.as_bytes()],
    )?;
    boxed(&index.to_be_bytes(), &[&data])
}

/// A new `mdta` meta holding only the label (the layout ffmpeg writes).
fn new_meta(value: &str) -> Result<Vec<u8>, MarkError> {
    let hdlr = boxed(b"hdlr", &[&[0; 8], &NAMESPACE, &[0; 13]])?;
    let keys = boxed(b"keys", &[&[0; 4], &1u32.to_be_bytes(), &label_key()])?;
    let ilst = boxed(b"ilst", &[&label_item(1, value)?])?;
    boxed(b"meta", &[&[0; 4], &hdlr, &keys, &ilst])
}

/// Rebuild an `mdta` meta without `AIGC` keys, adding one holding `value` when given.
fn rebuild_meta(
    buf: &[u8],
    meta: &Child,
    value: Option<&str>,
    base: u64,
) -> Result<Vec<u8>, MarkError> {
    let prefix = meta_prefix(buf, meta);
    let (kids, stop) = children_of(buf, meta, prefix, base)?;
    let (keys_box, ilst_box) = keys_and_ilst(&kids, base)?;
    let keys = match &keys_box {
        Some(k) => parse_keys(buf, k, base)?,
        None => Vec::new(),
    };
    // Old 1-based index -> new 1-based index.
    let mut renumber = Vec::with_capacity(keys.len());
    let mut key_bytes = Vec::new();
    let mut count = 0u32;
    for key in &keys {
        if key.is_label() {
            renumber.push(None);
        } else {
            count += 1;
            renumber.push(Some(count));
            key_bytes.extend_from_slice(key.raw);
        }
    }
    let mut item_bytes = Vec::new();
    if let Some(ilst) = &ilst_box {
        let (items, _) = children_of(buf, ilst, 0, base)?;
        for item in &items {
            let index = u32::from_be_bytes(item.kind) as usize;
            let Some(new) = index
                .checked_sub(1)
                .and_then(|i| renumber.get(i))
                .copied()
                .flatten()
            else {
                continue;
            };
            let mut raw = slice(buf, item.start, item.end).to_vec();
            if let Some(kind) = raw.get_mut(4..8) {
                kind.copy_from_slice(&new.to_be_bytes());
            }
            item_bytes.extend_from_slice(&raw);
        }
    }
    if let Some(value) = value {
        count += 1;
        key_bytes.extend_from_slice(&label_key());
        item_bytes.extend_from_slice(&label_item(count, value)?);
    }
    let keys_prefix = match &keys_box {
        Some(k) => slice(buf, k.body, k.body + 4).to_vec(),
        None => vec![0; 4],
    };
    let new_keys = boxed(b"keys", &[&keys_prefix, &count.to_be_bytes(), &key_bytes])?;
    let new_ilst = boxed(b"ilst", &[&item_bytes])?;

    let mut payload = slice(buf, meta.body, meta.body + prefix).to_vec();
    let mut placed = false;
    for kid in &kids {
        if matches!(&kid.kind, b"keys" | b"ilst") {
            if !placed {
                payload.extend_from_slice(&new_keys);
                payload.extend_from_slice(&new_ilst);
                placed = true;
            }
        } else {
            payload.extend_from_slice(slice(buf, kid.start, kid.end));
        }
    }
    if !placed {
        payload.extend_from_slice(&new_keys);
        payload.extend_from_slice(&new_ilst);
    }
    payload.extend_from_slice(slice(buf, stop, meta.end));
    boxed(b"meta", &[&payload])
}

/// Rebuild `udta`: its `mdta` metas lose their labels; the label goes into the first one, or into
/// a new meta appended after the last child when `insert` and none exists.
fn rebuild_udta(
    buf: &[u8],
    udta: &Child,
    value: Option<&str>,
    base: u64,
) -> Result<Vec<u8>, MarkError> {
    let (kids, stop) = children_of(buf, udta, 0, base)?;
    let mut pending = value;
    let mut payload = Vec::new();
    for kid in &kids {
        if &kid.kind == b"meta" && is_mdta_meta(buf, kid, base)? {
            payload.extend_from_slice(&rebuild_meta(buf, kid, pending.take(), base)?);
        } else {
            payload.extend_from_slice(slice(buf, kid.start, kid.end));
        }
    }
    if let Some(value) = pending {
        payload.extend_from_slice(&new_meta(value)?);
    }
    payload.extend_from_slice(slice(buf, stop, udta.end));
    boxed(b"udta", &[&payload])
}

/// The new `moov` box with exactly one label.
fn rebuild_moov(moov: &[u8], base: u64, value: &str) -> Result<Vec<u8>, MarkError> {
    let (kids, stop) = children(moov, moov_body(moov), moov.len(), base, "moov")?;
    let mut udta_has_mdta = false;
    let mut moov_has_mdta = false;
    for kid in &kids {
        match &kid.kind {
            b"udta" => {
                let (inner, _) = children_of(moov, kid, 0, base)?;
                for meta in inner.iter().filter(|k| &k.kind == b"meta") {
                    udta_has_mdta |= is_mdta_meta(moov, meta, base)?;
                }
            }
            b"meta" => moov_has_mdta |= is_mdta_meta(moov, kid, base)?,
            _ => {}
        }
    }
    // Where the label goes: the first udta (its mdta meta, or a new one), unless only a direct
    // moov/meta carries mdta metadata.
    let mut for_udta = if udta_has_mdta || !moov_has_mdta {
        Some(value)
    } else {
        None
    };
    let mut for_meta = if for_udta.is_none() {
        Some(value)
    } else {
        None
    };
    let mut payload = Vec::with_capacity(moov.len() + value.len() + 128);
    for kid in &kids {
        match &kid.kind {
            b"udta" => payload.extend_from_slice(&rebuild_udta(moov, kid, for_udta.take(), base)?),
            b"meta" if is_mdta_meta(moov, kid, base)? => {
                payload.extend_from_slice(&rebuild_meta(moov, kid, for_meta.take(), base)?);
            }
            _ => payload.extend_from_slice(slice(moov, kid.start, kid.end)),
        }
    }
    if let Some(value) = for_udta {
        payload.extend_from_slice(&boxed(b"udta", &[&new_meta(value)?])?);
    }
    payload.extend_from_slice(slice(moov, stop, moov.len()));
    boxed(b"moov", &[&payload])
}

/// Move every file offset at or after `from` in the chunk offset tables of `moov` by `delta`.
fn shift_offsets(moov: &mut [u8], base: u64, from: u64, delta: i64) -> Result<(), MarkError> {
    let mut tables = Vec::new();
    {
        let buf: &[u8] = moov;
        let (kids, _) = children(buf, moov_body(buf), buf.len(), base, "moov")?;
        for trak in kids.iter().filter(|k| &k.kind == b"trak") {
            let (inner, _) = children_of(buf, trak, 0, base)?;
            for mdia in inner.iter().filter(|k| &k.kind == b"mdia") {
                let (inner, _) = children_of(buf, mdia, 0, base)?;
                for minf in inner.iter().filter(|k| &k.kind == b"minf") {
                    let (inner, _) = children_of(buf, minf, 0, base)?;
                    for stbl in inner.iter().filter(|k| &k.kind == b"stbl") {
                        let (inner, _) = children_of(buf, stbl, 0, base)?;
                        tables.extend(
                            inner
                                .into_iter()
                                .filter(|k| matches!(&k.kind, b"stco" | b"co64" | b"saio")),
                        );
                    }
                }
            }
        }
    }
    for table in tables {
        let at = base + table.start as u64;
        let kind = name(table.kind);
        let corrupt =
            || MarkError::corrupt(FORMAT, format!("{kind} box at offset {at} is cut off"));
        let version = *moov.get(table.body).ok_or_else(corrupt)?;
        let flags = be_u32(moov, table.body).ok_or_else(corrupt)? & 0x00FF_FFFF;
        let (count_at, wide) = match &table.kind {
            b"stco" => (table.body + 4, false),
            b"co64" => (table.body + 4, true),
            // saio: optional aux_info_type and parameter, then 32- or 64-bit offsets.
            _ => (
                table.body + 4 + if flags & 1 != 0 { 8 } else { 0 },
                version != 0,
            ),
        };
        let count = be_u32(moov, count_at)
            .filter(|_| count_at + 4 <= table.end)
            .ok_or_else(corrupt)? as usize;
        let width = if wide { 8 } else { 4 };
        let first = count_at + 4;
        if count
            .checked_mul(width)
            .and_then(|n| n.checked_add(first))
            .is_none_or(|end| end > table.end)
        {
            return Err(MarkError::corrupt(
                FORMAT,
                format!("{kind} box at offset {at} has more entries than bytes"),
            ));
        }
        for i in 0..count {
            let pos = first + i * width;
            let Some(entry) = moov.get_mut(pos..pos + width) else {
                return Err(corrupt());
            };
            let old = if wide {
                be_u64(entry, 0)
            } else {
                be_u32(entry, 0).map(u64::from)
            }
            .ok_or_else(corrupt)?;
            if old < from {
                continue;
            }
            let new = i128::from(old) + i128::from(delta);
            if wide {
                let new = u64::try_from(new).map_err(|_| corrupt())?;
                entry.copy_from_slice(&new.to_be_bytes());
            } else {
                let new = u32::try_from(new).map_err(|_| {
                    MarkError::Unsupported(format!(
                        "an MP4 whose 32-bit chunk offset {old} in the {kind} box at offset {at} would overflow when the label is added; remux it with 64-bit offsets or with moov at the end"
                    ))
                })?;
                entry.copy_from_slice(&new.to_be_bytes());
            }
        }
    }
    Ok(())
}

/// Copy exactly `len` bytes starting at `offset`.
fn copy_range<R: Read + Seek, W: Write>(
    input: &mut R,
    output: &mut W,
    offset: u64,
    len: u64,
) -> Result<(), MarkError> {
    input.seek(SeekFrom::Start(offset))?;
    let copied = std::io::copy(&mut (&mut *input).take(len), output)
        .map_err(|e| MarkError::from_read(FORMAT, e))?;
    if copied != len {
        return Err(MarkError::truncated(
            FORMAT,
            format!("box at offset {offset} is cut off"),
        ));
    }
    Ok(())
}

/// Copy with exactly one `AIGC` key in the `mdta` metadata of `moov`, holding `value`.
///
/// Fragmented files whose `moov` changes size are refused with [`MarkError::Unsupported`].
pub fn write<R: Read + Seek, W: Write + Seek>(
    input: &mut R,
    output: &mut W,
    value: &str,
) -> Result<(), MarkError> {
    if value.len() as u64 > MAX_MOOV {
        return Err(MarkError::InvalidLabel(
            "the label is larger than an MP4 moov box Warden writes".into(),
        ));
    }
    let boxes = top_level(input)?;
    let (moov, bytes) = load_moov(input, &boxes)?;
    let mut new_moov = rebuild_moov(&bytes, moov.offset, value)?;
    let delta = new_moov.len() as i64 - bytes.len() as i64;
    if delta != 0 {
        if let Some(fragment) = boxes
            .iter()
            .find(|b| b.offset > moov.offset && matches!(&b.kind, b"moof" | b"mfra"))
        {
            return Err(MarkError::Unsupported(format!(
                "a fragmented MP4 ('{}' box at offset {} after moov); its offsets would need rewriting",
                name(fragment.kind),
                fragment.offset
            )));
        }
        shift_offsets(&mut new_moov, moov.offset, moov.offset + moov.size, delta)?;
    }
    for b in &boxes {
        if b.offset == moov.offset {
            output.write_all(&new_moov)?;
        } else {
            copy_range(input, output, b.offset, b.size)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::io::Cursor;

    use super::*;

    fn bx(kind: &[u8; 4], parts: &[&[u8]]) -> Vec<u8> {
        boxed(kind, parts).unwrap()
    }

    fn full(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
        bx(kind, &[&[0; 4], payload])
    }

    fn stco(offsets: &[u32]) -> Vec<u8> {
        let mut p = (offsets.len() as u32).to_be_bytes().to_vec();
        offsets
            .iter()
            .for_each(|o| p.extend_from_slice(&o.to_be_bytes()));
        full(b"stco", &p)
    }

    fn co64(offsets: &[u64]) -> Vec<u8> {
        let mut p = (offsets.len() as u32).to_be_bytes().to_vec();
        offsets
            .iter()
            .for_each(|o| p.extend_from_slice(&o.to_be_bytes()));
        full(b"co64", &p)
    }

    fn trak(table: &[u8]) -> Vec<u8> {
        let stbl = bx(b"stbl", &[&full(b"stsd", &[0, 0, 0, 0]), table]);
        let minf = bx(b"minf", &[&stbl]);
        let mdia = bx(b"mdia", &[&full(b"mdhd", &[0; 20]), &minf]);
        bx(b"trak", &[&full(b"tkhd", &[0; 80]), &mdia])
    }

    fn payload() -> Vec<u8> {
        (0..300u32).map(|i| (i * 13 % 256) as u8).collect()
    }

    /// `mdta` meta with the given (key, value) items.
    fn mdta_meta(items: &[(&str, &str)]) -> Vec<u8> {
        let hdlr = full(b"hdlr", &[&[0u8; 4][..], b"mdta", &[0; 13]].concat());
        let mut keys = (items.len() as u32).to_be_bytes().to_vec();
        let mut ilst = Vec::new();
        for (i, (k, v)) in items.iter().enumerate() {
            keys.extend_from_slice(&(8 + k.len() as u32).to_be_bytes());
            keys.extend_from_slice(b"mdta");
            keys.extend_from_slice(k.as_bytes());
            ilst.extend(label_item(i as u32 + 1, v).unwrap());
        }
        full(
            b"meta",
            &[hdlr, full(b"keys", &keys), bx(b"ilst", &[&ilst])].concat(),
        )
    }

    /// An iTunes-style meta with a title.
    fn mdir_meta() -> Vec<u8> {
        let hdlr = full(
            b"hdlr",
            &[&[0u8; 4][..], b"mdir", b"appl", &[0; 9]].concat(),
        );
        let data = bx(b"data", &[&1u32.to_be_bytes(), &[0; 4], b"A title"]);
        let ilst = bx(b"ilst", &[&bx(b"\xa9nam", &[&data])]);
        full(b"meta", &[hdlr, ilst].concat())
    }

    /// ftyp, moov and mdat with two tracks whose chunks point into mdat's payload.
    fn build(moov_first: bool, udta: Option<Vec<u8>>) -> Vec<u8> {
        let ftyp = bx(b"ftyp", &[b"isom\0\0\x02\0isomiso2mp41"]);
        let mdat = bx(b"mdat", &[&payload()]);
        let moov_with = |base: u64| {
            let mvhd = full(b"mvhd", &[0; 96]);
            let t1 = trak(&stco(&[base as u32, base as u32 + 100]));
            let t2 = trak(&co64(&[base + 200]));
            let udta = udta.clone().unwrap_or_default();
            bx(b"moov", &[&mvhd, &t1, &t2, &udta])
        };
        let size = moov_with(0).len() as u64;
        if moov_first {
            let base = (ftyp.len() as u64) + size + 8;
            [ftyp.clone(), moov_with(base), mdat].concat()
        } else {
            let base = ftyp.len() as u64 + 8;
            [ftyp.clone(), mdat, moov_with(base)].concat()
        }
    }

    fn write_to_vec(input: &[u8], value: &str) -> Result<Vec<u8>, MarkError> {
        crate::formats::test_support::write_vec(write, input, value)
    }

    fn read_vec(input: &[u8]) -> Result<Vec<String>, MarkError> {
        crate::formats::test_support::read_vec(read, input)
    }

    fn items(file: &[u8]) -> Vec<(String, String)> {
        let mut cursor = Cursor::new(file);
        let boxes = top_level(&mut cursor).unwrap();
        let (moov, bytes) = load_moov(&mut cursor, &boxes).unwrap();
        moov_items(&bytes, moov.offset).unwrap()
    }

    fn mdat_payload(file: &[u8]) -> Vec<u8> {
        let boxes = top_level(&mut Cursor::new(file)).unwrap();
        let mdat = boxes.iter().find(|b| &b.kind == b"mdat").unwrap();
        file[mdat.offset as usize + 8..(mdat.offset + mdat.size) as usize].to_vec()
    }

    /// Every chunk offset of the file, in track order.
    fn chunk_offsets(file: &[u8]) -> Vec<u64> {
        let pattern = |kind: &[u8]| file.windows(4).position(|w| w == kind).unwrap();
        let s = pattern(b"stco") + 8;
        let c = pattern(b"co64") + 8;
        let mut out = vec![];
        for i in 0..2 {
            out.push(u64::from(be_u32(file, s + 4 + i * 4).unwrap()));
        }
        out.push(be_u64(file, c + 4).unwrap());
        out
    }

    fn assert_chunks_point_at_payload(file: &[u8]) {
        let offsets = chunk_offsets(file);
        for (offset, start) in offsets.iter().zip([0usize, 100, 200]) {
            let at = *offset as usize;
            assert_eq!(
                &file[at..at + 100],
                &payload()[start..start + 100],
                "chunk at {at}"
            );
        }
    }

    #[test]
    fn moov_first_round_trip_shifts_chunk_offsets() {
        let input = build(true, None);
        assert_chunks_point_at_payload(&input);
        assert!(read_vec(&input).unwrap().is_empty());
        let value = r#"{"Label":"1","ContentProducer":"001"}"#;
        let out = write_to_vec(&input, value).unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec![value.to_string()]);
        assert_eq!(mdat_payload(&out), payload());
        assert_ne!(chunk_offsets(&out), chunk_offsets(&input));
        assert_chunks_point_at_payload(&out);
        // And again, shrinking the label: offsets move back.
        let again = write_to_vec(&out, "{}").unwrap();
        assert_eq!(read_vec(&again).unwrap(), vec!["{}".to_string()]);
        assert_chunks_point_at_payload(&again);
    }

    #[test]
    fn mdat_first_keeps_chunk_offsets() {
        let input = build(false, None);
        let out = write_to_vec(&input, "{\"a\":1}").unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec!["{\"a\":1}".to_string()]);
        assert_eq!(chunk_offsets(&out), chunk_offsets(&input));
        assert_eq!(mdat_payload(&out), payload());
        assert_chunks_point_at_payload(&out);
        let moov_at = 28 + 8 + payload().len();
        assert_eq!(
            &out[..moov_at],
            &input[..moov_at],
            "everything before moov is unchanged"
        );
    }

    #[test]
    fn writing_twice_leaves_one_label_and_keeps_other_keys() {
        let udta = bx(
            b"udta",
            &[
                &mdir_meta(),
                &mdta_meta(&[("encoder", "x"), ("AIGC", "{\"old\":1}"), ("title", "t")]),
            ],
        );
        let input = build(true, Some(udta));
        assert_eq!(read_vec(&input).unwrap(), vec!["{\"old\":1}".to_string()]);
        let once = write_to_vec(&input, "{\"n\":1}").unwrap();
        let twice = write_to_vec(&once, "{\"n\":2}").unwrap();
        assert_eq!(read_vec(&twice).unwrap(), vec!["{\"n\":2}".to_string()]);
        let expected = [("encoder", "x"), ("title", "t"), ("AIGC", "{\"n\":2}")];
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(items(&twice), expected);
        let mdir = mdir_meta();
        assert!(
            twice.windows(mdir.len()).any(|w| w == mdir.as_slice()),
            "the iTunes meta is untouched"
        );
        assert_chunks_point_at_payload(&twice);
        assert_eq!(mdat_payload(&twice), payload());
    }

    #[test]
    fn direct_quicktime_meta_in_moov_is_updated() {
        // QuickTime form: no version/flags after the meta header.
        let meta = mdta_meta(&[("com.apple.quicktime.title", "T"), ("AIGC", "{\"q\":0}")]);
        let qt = bx(b"meta", &[&meta[12..]]);
        let ftyp = bx(b"ftyp", &[b"qt  \0\0\0\0qt  "]);
        let mdat = bx(b"mdat", &[&payload()]);
        let moov = bx(
            b"moov",
            &[
                &full(b"mvhd", &[0; 96]),
                &trak(&stco(&[(ftyp.len() + 8) as u32])),
                &qt,
            ],
        );
        let input = [ftyp, mdat, moov].concat();
        assert_eq!(read_vec(&input).unwrap(), vec!["{\"q\":0}".to_string()]);
        let out = write_to_vec(&input, "{\"q\":1}").unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec!["{\"q\":1}".to_string()]);
        assert_eq!(
            items(&out)[0],
            ("com.apple.quicktime.title".to_string(), "T".to_string())
        );
        assert!(
            !out.windows(4).any(|w| w == b"udta"),
            "no second metadata place"
        );
    }

    #[test]
    fn large_and_open_ended_mdat() {
        let input = build(false, None);
        // Rewrite mdat with a 64-bit size.
        let ftyp_len = 28;
        let mut large = input[..ftyp_len].to_vec();
        large.extend_from_slice(&1u32.to_be_bytes());
        large.extend_from_slice(b"mdat");
        large.extend_from_slice(&(16 + payload().len() as u64).to_be_bytes());
        large.extend_from_slice(&payload());
        large.extend_from_slice(&input[ftyp_len + 8 + payload().len()..]);
        let out = write_to_vec(&large, "{}").unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec!["{}".to_string()]);
        assert!(
            out.windows(payload().len())
                .any(|w| w == payload().as_slice())
        );

        // moov first, then an mdat with size 0 running to the end of the file.
        let mut open = build(true, None);
        let mdat_at = open.len() - payload().len() - 8;
        open[mdat_at..mdat_at + 4].copy_from_slice(&[0; 4]);
        let out = write_to_vec(&open, "{\"o\":1}").unwrap();
        assert_eq!(read_vec(&out).unwrap(), vec!["{\"o\":1}".to_string()]);
        assert!(out.ends_with(&payload()));
        assert_chunks_point_at_payload(&out);
    }

    #[test]
    fn overflowing_stco_and_fragments_are_refused() {
        let ftyp = bx(b"ftyp", &[b"isom\0\0\0\0isom"]);
        let moov = bx(b"moov", &[&trak(&stco(&[u32::MAX - 2]))]);
        let input = [ftyp.clone(), moov.clone(), bx(b"mdat", &[b"x"])].concat();
        assert!(matches!(
            write_to_vec(&input, "{}"),
            Err(MarkError::Unsupported(_))
        ));
        let input = [ftyp, moov, bx(b"moof", &[]), bx(b"mdat", &[b"x"])].concat();
        assert!(matches!(
            write_to_vec(&input, "{}"),
            Err(MarkError::Unsupported(_))
        ));
    }

    #[test]
    fn truncated_and_corrupt_inputs_are_errors() {
        let udta = bx(b"udta", &[&mdta_meta(&[("encoder", "x"), ("AIGC", "{}")])]);
        let input = build(true, Some(udta));
        let mdat_at = input.len() - payload().len() - 8;
        for len in 0..input.len() {
            let cut = &input[..len];
            for result in [
                read_vec(cut).map(|_| ()),
                write_to_vec(cut, "{}").map(|_| ()),
            ] {
                match result {
                    // Cut exactly between boxes, the file is still well formed.
                    Ok(()) => assert!(len == mdat_at, "{len}"),
                    Err(e) => {
                        assert!(
                            matches!(e, MarkError::Truncated { .. } | MarkError::Corrupt { .. }),
                            "{len}: {e}"
                        )
                    }
                }
            }
        }
        assert!(matches!(
            read_vec(&input[..input.len() - 1]),
            Err(MarkError::Truncated { .. })
        ));
        // Corrupt every byte of moov in turn: errors or results, never a panic.
        let moov_at = 28;
        let moov_len = be_u32(&input, moov_at).unwrap() as usize;
        for i in moov_at + 8..moov_at + moov_len {
            for byte in [0x00, 0x01, 0x7F, 0xFF] {
                let mut bad = input.clone();
                bad[i] = byte;
                let _ = read_vec(&bad);
                let _ = write_to_vec(&bad, "{}");
            }
        }
        assert!(matches!(
            read_vec(b"\0\0\0\x08free"),
            Err(MarkError::Corrupt { .. })
        ));
    }
}
