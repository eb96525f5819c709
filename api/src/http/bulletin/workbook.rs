//! The bulletin as a styled workbook: one sheet per ranked indicator, named by its official
//! Chinese name, with the children's rank, code, name, numerator, denominator, rate, previous
//! month's rate and the change in percentage points, the area's own figure beneath, and a
//! column chart of the rates.
//!
//! Every string is written as a text cell, never as a formula; one that begins with `=`, `+`,
//! `-`, `@`, a tab or a carriage return also carries the quote-prefix style, so that a
//! spreadsheet keeps it text even when the cell is edited (the workbook's form of
//! `register::spreadsheet::defang`, which leaves the value itself unchanged).

use super::{change, Document};
use rust_xlsxwriter::{
    Chart, ChartType, Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet, XlsxError,
};

/// The characters that make a spreadsheet read a cell as a formula when it begins with one.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The column headings.
const HEADINGS: [&str; 8] = [
    "排名",
    "区划代码",
    "名称",
    "分子",
    "分母",
    "比率",
    "上月比率",
    "环比变化 (百分点)",
];

/// The first row of the ranking (0-based): after the title, the subtitle, a blank row and the
/// headings.
pub(crate) const FIRST_ROW: u32 = 4;

struct Styles {
    title: Format,
    heading: Format,
    text: Format,
    guarded: Format,
    number: Format,
    rate: Format,
    points: Format,
}

impl Styles {
    fn new() -> Self {
        let cell = Format::new().set_border(FormatBorder::Thin);
        Styles {
            title: Format::new().set_bold().set_font_size(14),
            heading: cell
                .clone()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_background_color(Color::RGB(0x00DD_EBF7)),
            text: cell.clone(),
            guarded: cell.clone().set_quote_prefix(),
            number: cell.clone().set_num_format("0"),
            rate: cell.clone().set_num_format("0.0%"),
            points: cell.set_num_format("+0.0;-0.0;0.0"),
        }
    }
}

/// Writes `text` as a text cell (guarded when a spreadsheet could take it for a formula).
fn text(
    sheet: &mut Worksheet,
    styles: &Styles,
    row: u32,
    col: u16,
    value: &str,
) -> Result<(), XlsxError> {
    let format = if value.starts_with(TRIGGERS) {
        &styles.guarded
    } else {
        &styles.text
    };
    sheet.write_string_with_format(row, col, value, format)?;
    Ok(())
}

fn number(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    value: Option<f64>,
    format: &Format,
) -> Result<(), XlsxError> {
    match value {
        Some(v) => sheet.write_number_with_format(row, col, v, format)?,
        None => sheet.write_blank(row, col, format)?,
    };
    Ok(())
}

/// The workbook's bytes.
pub(super) fn render(doc: &Document) -> Result<Vec<u8>, XlsxError> {
    let styles = Styles::new();
    let mut book = Workbook::new();
    let title = doc.title();
    let subtitle = doc.subtitle();
    for sheet_data in &doc.sheets {
        let name = sheet_data.indicator.official_name();
        let sheet = book.add_worksheet();
        sheet.set_name(name)?;
        let guarded_title = if title.starts_with(TRIGGERS) {
            styles.title.clone().set_quote_prefix()
        } else {
            styles.title.clone()
        };
        sheet.write_string_with_format(0, 0, format!("{title} · {name}"), &guarded_title)?;
        sheet.write_string(1, 0, &subtitle)?;
        for (col, heading) in (0u16..).zip(HEADINGS) {
            sheet.write_string_with_format(FIRST_ROW - 1, col, heading, &styles.heading)?;
        }
        let mut row = FIRST_ROW;
        for (entry, area_name) in &sheet_data.rows {
            sheet.write_number_with_format(row, 0, f64::from(entry.rank), &styles.number)?;
            text(sheet, &styles, row, 1, &entry.area)?;
            text(sheet, &styles, row, 2, area_name)?;
            let rate = entry.ratio.rate();
            number(
                sheet,
                row,
                3,
                Some(entry.ratio.numerator as f64),
                &styles.number,
            )?;
            number(
                sheet,
                row,
                4,
                Some(entry.ratio.denominator as f64),
                &styles.number,
            )?;
            number(sheet, row, 5, rate, &styles.rate)?;
            number(sheet, row, 6, entry.previous_rate, &styles.rate)?;
            number(
                sheet,
                row,
                7,
                change(rate, entry.previous_rate),
                &styles.points,
            )?;
            row += 1;
        }
        let last = row.saturating_sub(1);
        // The area's own figure, beneath its children's.
        let own = sheet_data.indicator.ratio(&doc.read.bulletin.reported.area);
        text(sheet, &styles, row, 1, &doc.area_code)?;
        text(
            sheet,
            &styles,
            row,
            2,
            &format!("{}（整体）", doc.area_name),
        )?;
        number(sheet, row, 3, Some(own.numerator as f64), &styles.number)?;
        number(sheet, row, 4, Some(own.denominator as f64), &styles.number)?;
        number(sheet, row, 5, own.rate(), &styles.rate)?;
        for (col, width) in [
            (0u16, 6.0),
            (1, 14.0),
            (2, 18.0),
            (3, 8.0),
            (4, 8.0),
            (5, 10.0),
            (6, 10.0),
            (7, 16.0),
        ] {
            sheet.set_column_width(col, width)?;
        }
        if !sheet_data.rows.is_empty() {
            let mut chart = Chart::new(ChartType::Column);
            chart
                .add_series()
                .set_name(name)
                .set_categories((name, FIRST_ROW, 2, last, 2))
                .set_values((name, FIRST_ROW, 5, last, 5));
            chart.title().set_name(name);
            chart.y_axis().set_num_format("0%");
            chart.legend().set_hidden();
            sheet.insert_chart(FIRST_ROW - 1, 9, &chart)?;
        }
    }
    book.save_to_buffer()
}
