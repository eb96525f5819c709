//! The bulletin as a printable page: server-rendered HTML, one table and one inline SVG bar
//! chart per ranked indicator, a print stylesheet for A4, and no script. Every text is escaped.

use super::{change, percent, Document};
use std::fmt::Write;

/// `text` with the characters HTML gives meaning to escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "\
body { font-family: 'Noto Sans CJK SC', 'Microsoft YaHei', sans-serif; margin: 2em; color: #222; }\n\
h1 { font-size: 1.4em; margin-bottom: 0.2em; }\n\
h2 { font-size: 1.1em; margin-top: 1.5em; }\n\
.subtitle { color: #555; }\n\
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }\n\
th, td { border: 1px solid #999; padding: 0.25em 0.5em; text-align: right; }\n\
th { background: #ddebf7; }\n\
td.name, td.code { text-align: left; }\n\
tr.own td { font-weight: bold; }\n\
svg { width: 100%; height: auto; }\n\
section { break-inside: avoid; page-break-inside: avoid; }\n\
@page { size: A4; margin: 15mm; }\n\
@media print { body { margin: 0; font-size: 10.5pt; } th { background: #ddebf7 !important; \
-webkit-print-color-adjust: exact; print-color-adjust: exact; } }\n";

/// Bars of the children's rates, best first.
fn chart(rows: &[(crate::domain::periods::RankEntry, String)], title: &str) -> String {
    let bar = 22;
    let label = 140;
    let width = 600;
    let height = rows.len() * bar + 10;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {width} {height}\" role=\"img\" \
         aria-label=\"{}\">",
        escape(title)
    );
    for (i, (entry, name)) in rows.iter().enumerate() {
        let y = i * bar + 5;
        let rate = entry.ratio.rate().unwrap_or(0.0).clamp(0.0, 1.0);
        let length = (rate * f64::from(width - label - 60)).round();
        let _ = write!(
            svg,
            "<text x=\"{x}\" y=\"{ty}\" text-anchor=\"end\" font-size=\"12\">{name}</text>\
             <rect class=\"bar\" data-area=\"{code}\" x=\"{label}\" y=\"{y}\" width=\"{length}\" \
             height=\"{h}\" fill=\"#4472c4\"/>\
             <text x=\"{tx}\" y=\"{ty}\" font-size=\"12\">{pct}</text>",
            x = label - 6,
            ty = y + 15,
            name = escape(name),
            code = escape(&entry.area),
            h = bar - 6,
            tx = f64::from(label) + length + 4.0,
            pct = percent(entry.ratio.rate()),
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The page.
pub(super) fn render(doc: &Document) -> String {
    let title = doc.title();
    let mut html = format!(
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">\
         <title>{t}</title><style>{STYLE}</style></head><body>\
         <h1>{t}</h1><p class=\"subtitle\">{s}</p>",
        t = escape(&title),
        s = escape(&doc.subtitle()),
    );
    for sheet in &doc.sheets {
        let name = sheet.indicator.official_name();
        let _ = write!(
            html,
            "<section class=\"indicator\" data-indicator=\"{}\"><h2>{}</h2>\
             <table><thead><tr><th>排名</th><th>区划代码</th><th>名称</th><th>分子</th>\
             <th>分母</th><th>比率</th><th>上月比率</th><th>环比变化 (百分点)</th></tr></thead><tbody>",
            sheet.indicator.name(),
            escape(name)
        );
        for (entry, area_name) in &sheet.rows {
            let rate = entry.ratio.rate();
            let _ = write!(
                html,
                "<tr class=\"rank\"><td>{}</td><td class=\"code\">{}</td><td class=\"name\">{}</td>\
                 <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                entry.rank,
                escape(&entry.area),
                escape(area_name),
                entry.ratio.numerator,
                entry.ratio.denominator,
                percent(rate),
                percent(entry.previous_rate),
                change(rate, entry.previous_rate)
                    .map_or_else(|| "—".to_owned(), |p| format!("{p:+.1}")),
            );
        }
        let own = sheet.indicator.ratio(&doc.read.bulletin.reported.area);
        let _ = write!(
            html,
            "<tr class=\"own\"><td></td><td class=\"code\">{}</td><td class=\"name\">{}（整体）</td>\
             <td>{}</td><td>{}</td><td>{}</td><td></td><td></td></tr></tbody></table>{}</section>",
            escape(&doc.area_code),
            escape(&doc.area_name),
            own.numerator,
            own.denominator,
            percent(own.rate()),
            chart(&sheet.rows, name),
        );
    }
    html.push_str("</body></html>\n");
    html
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn markup_in_names_is_escaped() {
        assert_eq!(
            escape("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
    }
}
