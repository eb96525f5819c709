//! Watch lists to download for field teams (CONTRACT §7): `GET /watch-lists/{kind}.csv` and
//! `GET /watch-lists/{kind}.xlsx`, with `areaCode` or `siteCode` and optionally `asOf` in the
//! query string. They need credentials and read through the caller's scope exactly as the
//! GraphQL `watchList` does (a scope outside it answers as one that does not exist); personal
//! data is masked unless the caller's role is granted it, and each household shown unmasked is
//! audited before the file leaves. Every cell that a spreadsheet would evaluate is defanged.

use super::download::{bad, caller, database, refuse, unwritten};
use super::read_audit::audit_reads;
use super::AppState;
use crate::auth::scope::Access;
use crate::auth::{mask, Principal};
use crate::domain::indicators::Target;
use crate::domain::watch::{self, WatchEntry, WatchKind};
use crate::error::Code;
use crate::graphql::RequestId;
use crate::register::spreadsheet::defang;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::NaiveDate;
use rust_xlsxwriter::{Format, Workbook, XlsxError};
use std::collections::HashMap;

/// The column headings, in order.
pub const HEADINGS: [&str; 9] = [
    "户编号",
    "户主姓名",
    "户主身份证号",
    "联系电话",
    "安置点",
    "迁出村",
    "人口",
    "原因",
    "起始日期",
];

/// The characters that make a spreadsheet read a cell as a formula when it begins with one.
const TRIGGERS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The file's rows: one per household, masked for callers without personal data, with the
/// households shown unmasked.
fn rows(entries: &[WatchEntry], pii: bool) -> Vec<[String; 9]> {
    entries
        .iter()
        .map(|e| {
            let h = &e.household;
            let (name, id, phone) = if pii {
                (
                    h.head_name.clone(),
                    h.head_id_number.clone(),
                    h.phone.clone().unwrap_or_default(),
                )
            } else {
                (
                    mask::name(&h.head_name),
                    mask::id_number(&h.head_id_number),
                    h.phone.as_deref().map(mask::phone).unwrap_or_default(),
                )
            };
            [
                h.code.clone(),
                name,
                id,
                phone,
                h.site_code.clone(),
                h.origin_village_code.clone(),
                h.persons.to_string(),
                e.reasons.join("；"),
                e.since.map(|d| d.to_string()).unwrap_or_default(),
            ]
        })
        .collect()
}

/// The list as CSV (UTF-8 with a byte-order mark, so that spreadsheets read the Chinese).
pub fn csv(rows: &[[String; 9]]) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::Writer::from_writer(b"\xEF\xBB\xBF".to_vec());
    out.write_record(HEADINGS)?;
    for row in rows {
        out.write_record(row.iter().map(|c| defang(c).into_owned()))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// The list as a workbook: a title, the headings, one row per household. Every cell is text;
/// one beginning with a formula character also carries the quote prefix.
pub fn xlsx(title: &str, rows: &[[String; 9]]) -> Result<Vec<u8>, XlsxError> {
    let mut book = Workbook::new();
    let sheet = book.add_worksheet();
    sheet.set_name("名单")?;
    let bold = Format::new().set_bold();
    let guarded = Format::new().set_quote_prefix();
    let text = Format::new();
    sheet.write_string_with_format(0, 0, title, &bold.clone().set_font_size(14))?;
    for (c, heading) in HEADINGS.iter().enumerate() {
        sheet.write_string_with_format(2, c as u16, *heading, &bold)?;
    }
    for (r, row) in rows.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let format = if cell.starts_with(TRIGGERS) {
                &guarded
            } else {
                &text
            };
            sheet.write_string_with_format(r as u32 + 3, c as u16, cell, format)?;
        }
    }
    for (c, width) in [14, 10, 22, 14, 12, 14, 6, 60, 12].iter().enumerate() {
        sheet.set_column_width(c as u16, *width)?;
    }
    book.save_to_buffer()
}

/// `GET /watch-lists/{kind}.csv` or `.xlsx`.
pub(super) async fn download(
    State(state): State<AppState>,
    Path(file): Path<String>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (caller, who) = match caller(&state, &headers, "watch lists").await {
        Ok(known) => known,
        Err(response) => return response,
    };
    let (name, xlsx_wanted) = match (file.strip_suffix(".csv"), file.strip_suffix(".xlsx")) {
        (Some(n), _) => (n, false),
        (_, Some(n)) => (n, true),
        _ => {
            return bad(format!(
                "path: \"{file}\" is not a download; ask for `{{kind}}.csv` or `{{kind}}.xlsx`"
            ))
        }
    };
    let Some(kind) = WatchKind::from_name(&name.to_uppercase()) else {
        let kinds: Vec<&str> = WatchKind::ALL.iter().map(|k| k.name()).collect();
        return bad(format!(
            "kind: \"{name}\" is not a watch list; one of {}",
            kinds.join(", ")
        ));
    };
    let target = match (query.get("areaCode"), query.get("siteCode")) {
        (Some(a), None) => Target::Area(a.clone()),
        (None, Some(s)) => Target::Site(s.clone()),
        _ => return bad("scope: give exactly one of `areaCode` and `siteCode`".into()),
    };
    let as_of = match query.get("asOf") {
        None => crate::domain::rules::today(),
        Some(d) => match NaiveDate::parse_from_str(d, "%Y-%m-%d") {
            Ok(d) => d,
            Err(_) => return bad(format!("asOf: \"{d}\" is not a date (YYYY-MM-DD)")),
        },
    };
    let access = Access::new(state.db.clone(), caller);
    let scope = match access.scope().await {
        Ok(s) => s,
        Err(e) => return database("watch-list", e),
    };
    match watch::readable(&state.db, &scope, &target).await {
        Ok(true) => {}
        Ok(false) => {
            return refuse(
                StatusCode::NOT_FOUND,
                Code::NotFound,
                format!("no area or site `{}` was found", target.code()),
            )
        }
        Err(e) => return database("watch-list", e),
    }
    let entries = match watch::entries(&state.db, &scope, &target, as_of, kind, state.watch).await {
        Ok(e) => e,
        Err(e) => return database("watch-list", e),
    };
    let rows = rows(&entries, who.pii);
    if who.pii {
        if let Err(response) = audit(&state, &who, &entries).await {
            return response;
        }
    }
    let title = format!(
        "{}（{}）{} 截至 {as_of}",
        target.code(),
        kind.name(),
        kind.official_name()
    );
    let stem = format!(
        "watch-{}-{}-{as_of}",
        kind.name().to_lowercase(),
        target.code()
    );
    let (bytes, content_type, ext) = if xlsx_wanted {
        match xlsx(&title, &rows) {
            Ok(b) => (
                b,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
            Err(e) => return unwritten("watch-list workbook", e),
        }
    } else {
        match csv(&rows) {
            Ok(b) => (b, "text/csv; charset=utf-8", "csv"),
            Err(e) => return unwritten("watch-list CSV", e),
        }
    };
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{stem}.{ext}\""),
            ),
            (header::CACHE_CONTROL, "private, no-store".to_owned()),
        ],
        bytes,
    )
        .into_response()
}

/// Records the households shown unmasked before the file leaves.
async fn audit(state: &AppState, who: &Principal, entries: &[WatchEntry]) -> Result<(), Response> {
    let reads: Vec<(&'static str, String)> = entries
        .iter()
        .map(|e| ("household", e.household.code.clone()))
        .collect();
    audit_reads(
        state,
        who,
        &RequestId::new(),
        Some("watch-list download"),
        &reads,
    )
    .await
    .map_err(|_| {
        refuse(
            StatusCode::SERVICE_UNAVAILABLE,
            Code::DatabaseUnavailable,
            "the read could not be audited; try again".into(),
        )
    })
}
