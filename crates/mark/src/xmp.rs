//! XMP packets carrying the label as the TC260 guides place it: property `AIGC` in namespace
//! `http://www.tc260.org.cn/ns/AIGC/1.0/` (prefix `TC260`), either as an element
//! `<TC260:AIGC>…</TC260:AIGC>` or as an attribute `TC260:AIGC="…"`.
//!
//! Only the label property is touched: in an existing packet it is replaced in place (and any
//! duplicates removed), and every other property is kept byte for byte.

/// The TC260 AIGC namespace URI.
pub const NAMESPACE: &str = "http://www.tc260.org.cn/ns/AIGC/1.0/";
/// The prefix Warden writes.
pub const PREFIX: &str = "TC260";

/// Escape text for XML element content or a double-quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            other => out.push(other),
        }
    }
    out
}

/// Undo XML escaping: the five named entities and numeric references.
pub fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        let after = &rest[amp..];
        let Some(semi) = after.find(';').filter(|semi| *semi <= 10) else {
            out.push('&');
            rest = &after[1..];
            continue;
        };
        let entity = &after[1..semi];
        let decoded = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = &after[semi + 1..];
            }
            None => {
                out.push('&');
                rest = &after[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// A complete XMP packet holding only the label.
pub fn new_packet(value: &str) -> String {
    format!(
        "<?xpacket begin=\"\u{feff}\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n\
         <x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n \
         <rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\">\n  \
         {}\n \
         </rdf:RDF>\n\
         </x:xmpmeta>\n\
         <?xpacket end=\"w\"?>",
        description(value)
    )
}

fn description(value: &str) -> String {
    format!(
        "<rdf:Description rdf:about=\"\" xmlns:{PREFIX}=\"{NAMESPACE}\">\n   <{PREFIX}:AIGC>{}</{PREFIX}:AIGC>\n  </rdf:Description>",
        escape(value)
    )
}

/// The prefixes bound to the TC260 namespace in `packet` (usually just `TC260`).
fn prefixes(packet: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = packet;
    while let Some(at) = rest.find("xmlns:") {
        let after = &rest[at + 6..];
        if let Some(eq) = after.find('=') {
            let prefix = after[..eq].trim();
            let value = after[eq + 1..].trim_start();
            let quote = value.chars().next();
            if let Some(quote @ ('"' | '\'')) = quote
                && let Some(end) = value[1..].find(quote)
                && &value[1..1 + end] == NAMESPACE
                && !found.iter().any(|known| known == prefix)
            {
                found.push(prefix.to_owned());
            }
        }
        rest = &rest[at + 6..];
    }
    found
}

/// Where one label property sits in a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Occurrence {
    /// Byte range of the whole element or attribute.
    start: usize,
    end: usize,
    /// Byte range of the escaped value.
    value_start: usize,
    value_end: usize,
}

fn occurrences(packet: &str) -> Vec<Occurrence> {
    let mut found = Vec::new();
    for prefix in prefixes(packet) {
        let open = format!("<{prefix}:AIGC>");
        let close = format!("</{prefix}:AIGC>");
        let mut from = 0;
        while let Some(at) = packet[from..].find(&open) {
            let start = from + at;
            let value_start = start + open.len();
            let Some(len) = packet[value_start..].find(&close) else {
                break;
            };
            let value_end = value_start + len;
            found.push(Occurrence {
                start,
                end: value_end + close.len(),
                value_start,
                value_end,
            });
            from = value_end + close.len();
        }
        let attribute = format!("{prefix}:AIGC=");
        let mut from = 0;
        while let Some(at) = packet[from..].find(&attribute) {
            let start = from + at;
            let quote_at = start + attribute.len();
            let Some(quote @ ('"' | '\'')) = packet[quote_at..].chars().next() else {
                from = quote_at;
                continue;
            };
            let value_start = quote_at + 1;
            let Some(len) = packet[value_start..].find(quote) else {
                break;
            };
            let value_end = value_start + len;
            // Include the whitespace before the attribute so removing it leaves tidy XML.
            let mut begin = start;
            while begin > 0 && packet.as_bytes()[begin - 1].is_ascii_whitespace() {
                begin -= 1;
            }
            found.push(Occurrence {
                start: begin,
                end: value_end + 1,
                value_start,
                value_end,
            });
            from = value_end + 1;
        }
    }
    found.sort_by_key(|occurrence| occurrence.start);
    found
}

/// Every label value in the packet, unescaped, in document order.
pub fn read_values(packet: &str) -> Vec<String> {
    occurrences(packet)
        .iter()
        .map(|o| unescape(packet[o.value_start..o.value_end].trim()))
        .collect()
}

/// `packet` with exactly one label property holding `value`; everything else is kept.
pub fn set_value(packet: &str, value: &str) -> String {
    let found = occurrences(packet);
    if let Some(first) = found.first() {
        let mut out = String::with_capacity(packet.len() + value.len());
        out.push_str(&packet[..first.value_start]);
        out.push_str(&escape(value));
        let mut cursor = first.value_end;
        for duplicate in &found[1..] {
            if duplicate.start < cursor {
                continue;
            }
            out.push_str(&packet[cursor..duplicate.start]);
            cursor = duplicate.end;
        }
        out.push_str(&packet[cursor..]);
        return out;
    }
    match packet.rfind("</rdf:RDF>") {
        Some(at) => format!(
            "{}{}\n {}",
            &packet[..at],
            description(value),
            &packet[at..]
        ),
        None => new_packet(value),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VALUE: &str = r#"{"Label":"1","ContentProducer":"P&Q<>","ProduceID":"1"}"#;

    #[test]
    fn a_new_packet_round_trips_the_value() {
        let packet = new_packet(VALUE);
        assert!(packet.contains("xmlns:TC260=\"http://www.tc260.org.cn/ns/AIGC/1.0/\""));
        assert_eq!(read_values(&packet), vec![VALUE.to_owned()]);
    }

    #[test]
    fn reads_the_attribute_form_and_other_prefixes() {
        let packet = r#"<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description rdf:about="" xmlns:aigc="http://www.tc260.org.cn/ns/AIGC/1.0/" aigc:AIGC="{&quot;Label&quot;:&quot;1&quot;}"/></rdf:RDF></x:xmpmeta>"#;
        assert_eq!(read_values(packet), vec![r#"{"Label":"1"}"#.to_owned()]);
        let replaced = set_value(packet, "{}");
        assert_eq!(read_values(&replaced), vec!["{}".to_owned()]);
    }

    #[test]
    fn setting_keeps_other_properties_and_leaves_exactly_one_label() {
        let existing = format!(
            "<x:xmpmeta><rdf:RDF xmlns:rdf=\"r\"><rdf:Description xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:creator>Ann</dc:creator></rdf:Description>{}{}</rdf:RDF></x:xmpmeta>",
            description("old-1"),
            description("old-2")
        );
        assert_eq!(read_values(&existing).len(), 2);
        let updated = set_value(&existing, VALUE);
        assert_eq!(read_values(&updated), vec![VALUE.to_owned()]);
        assert!(updated.contains("<dc:creator>Ann</dc:creator>"));
        let added = set_value(
            "<x:xmpmeta><rdf:RDF xmlns:rdf=\"r\"></rdf:RDF></x:xmpmeta>",
            VALUE,
        );
        assert_eq!(read_values(&added), vec![VALUE.to_owned()]);
        assert_eq!(
            read_values(&set_value("garbage", VALUE)),
            vec![VALUE.to_owned()]
        );
    }

    #[test]
    fn unescape_handles_numeric_and_broken_entities() {
        assert_eq!(
            unescape("&#65;&#x42;&amp;&bogus; & end"),
            "AB&&bogus; & end"
        );
    }
}
