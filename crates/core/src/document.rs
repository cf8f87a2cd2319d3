//! Report documents: a title, headline bullets, tables and closing lists, rendered as Markdown or
//! as one self-contained HTML page (no scripts, no external assets). Every report Warden prints
//! (evaluation runs, gate scorecards) is built as a [`Document`], so escaping is done once, here.

use std::fmt::Write as _;

/// A table: a title, a header row and rows of cells (plain text; escaped when rendered).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Table {
    pub title: String,
    pub header: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

/// A report: headline bullets, tables, then titled bullet lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Document {
    pub title: String,
    pub headline: Vec<String>,
    pub tables: Vec<Table>,
    /// Closing sections, e.g. ("Residual risk", notes); empty lists are left out.
    pub lists: Vec<(String, Vec<String>)>,
}

/// Text made safe for a Markdown table cell or bullet: pipes and backslashes escaped, line breaks
/// as spaces. Angle brackets and ampersands stay as they are: Markdown is read on the terminal,
/// where `&lt;` would show as such; HTML output is escaped by [`html_escape`].
pub fn markdown_cell(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace(['\n', '\r'], " ")
}

/// Text made safe for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

impl Document {
    /// The document as Markdown.
    pub fn to_markdown(&self) -> String {
        let mut out = format!("# {}\n\n", markdown_cell(&self.title));
        for line in &self.headline {
            let _ = writeln!(out, "- {}", markdown_cell(line));
        }
        for table in &self.tables {
            let header: Vec<String> = table.header.iter().map(|h| markdown_cell(h)).collect();
            let _ = write!(
                out,
                "\n## {}\n\n| {} |\n|",
                markdown_cell(&table.title),
                header.join(" | ")
            );
            for _ in &table.header {
                out.push_str("---|");
            }
            out.push('\n');
            for row in &table.rows {
                let cells: Vec<String> = row.iter().map(|c| markdown_cell(c)).collect();
                let _ = writeln!(out, "| {} |", cells.join(" | "));
            }
        }
        for (title, items) in self.lists.iter().filter(|(_, items)| !items.is_empty()) {
            let _ = writeln!(out, "\n## {}\n", markdown_cell(title));
            for item in items {
                let _ = writeln!(out, "- {}", markdown_cell(item));
            }
        }
        out
    }

    /// The document as one self-contained HTML page.
    pub fn to_html(&self) -> String {
        let title = html_escape(&self.title);
        let mut out = format!(
            "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n<title>{title}</title>\n\
             <style>body{{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}}\
             table{{border-collapse:collapse;margin:.5rem 0 1.5rem}}td,th{{border:1px solid #ccc;padding:.25rem .6rem;text-align:left}}\
             th{{background:#f3f3f3}}</style></head><body>\n<h1>{title}</h1>\n<ul>\n"
        );
        for line in &self.headline {
            let _ = writeln!(out, "<li>{}</li>", html_escape(line));
        }
        out.push_str("</ul>\n");
        for table in &self.tables {
            let _ = writeln!(out, "<h2>{}</h2>\n<table><tr>", html_escape(&table.title));
            for cell in &table.header {
                let _ = write!(out, "<th>{}</th>", html_escape(cell));
            }
            out.push_str("</tr>\n");
            for row in &table.rows {
                out.push_str("<tr>");
                for cell in row {
                    let _ = write!(out, "<td>{}</td>", html_escape(cell));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table>\n");
        }
        for (title, items) in self.lists.iter().filter(|(_, items)| !items.is_empty()) {
            let _ = writeln!(out, "<h2>{}</h2>\n<ul>", html_escape(title));
            for item in items {
                let _ = writeln!(out, "<li>{}</li>", html_escape(item));
            }
            out.push_str("</ul>\n");
        }
        out.push_str("</body></html>\n");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Document {
        Document {
            title: "Run <1>".into(),
            headline: vec!["a | b".into()],
            tables: vec![Table {
                title: "T".into(),
                header: vec!["x".into(), "y".into()],
                rows: vec![vec!["1".into(), "<script>".into()]],
            }],
            lists: vec![
                ("Notes".into(), vec!["n & m".into()]),
                ("Empty".into(), vec![]),
            ],
        }
    }

    #[test]
    fn issue_10_markdown_escapes_cells_for_the_terminal_not_for_html() {
        let md = sample().to_markdown();
        assert!(md.starts_with("# Run <1>\n"), "{md}");
        assert!(md.contains("- a \\| b"), "{md}");
        assert!(
            md.contains("| x | y |\n|---|---|\n| 1 | <script> |"),
            "{md}"
        );
        assert!(!md.contains("&lt;") && !md.contains("&gt;"), "{md}");
        assert!(md.contains("## Notes\n\n- n & m"), "{md}");
        assert!(!md.contains("Empty"), "{md}");
    }

    #[test]
    fn html_is_escaped_and_self_contained() {
        let html = sample().to_html();
        assert!(!html.contains("<script>"), "{html}");
        assert!(html.contains("<td>&lt;script&gt;</td>"), "{html}");
        assert!(html.contains("<li>n &amp; m</li>"), "{html}");
        assert!(!html.contains("http"), "no external assets: {html}");
    }
}
