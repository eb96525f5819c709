//! Bulletins to download and print (CONTRACT §6): `GET /bulletins/{areaCode}/{month}.xlsx`, a
//! styled workbook, and `GET /bulletins/{areaCode}/{month}`, a printable page. Both need
//! credentials, read through the caller's scope exactly as the GraphQL `bulletin` does (an area
//! outside it is answered as one that does not exist), and take `?vintage=N` (the latest by
//! default).

mod page;
mod workbook;

use super::download::{bad, caller, database, refuse, unwritten};
use super::AppState;
use crate::auth::scope::Access;
use crate::domain::periods::{self, BulletinRead, Indicator, Month, RankEntry};
use crate::error::Code;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use std::collections::HashMap;

/// One indicator's ranking, with the names of the areas ranked.
pub(crate) struct Sheet {
    pub indicator: Indicator,
    pub rows: Vec<(RankEntry, String)>,
}

/// What both renderings show.
pub(crate) struct Document {
    pub area_code: String,
    pub area_name: String,
    pub read: BulletinRead,
    pub sheets: Vec<Sheet>,
}

impl Document {
    /// `{name}（{code}）{month} 逐月通报`.
    pub fn title(&self) -> String {
        format!(
            "{}（{}）{} 逐月通报",
            self.area_name, self.area_code, self.read.bulletin.month
        )
    }

    /// A line saying which vintage this is and what date its figures are for.
    pub fn subtitle(&self) -> String {
        let b = &self.read.bulletin;
        let cst = chrono::FixedOffset::east_opt(8 * 3600);
        let approved = chrono::DateTime::from_timestamp_millis(b.approved_at_ms)
            .zip(cst)
            .map(|(t, cst)| t.with_timezone(&cst).format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default();
        format!(
            "第 {} 版 · 统计截至 {} · 审核通过于 {}",
            b.vintage, b.as_of, approved
        )
    }
}

/// Reads the bulletin for the caller, with the names it shows.
async fn document(
    state: &AppState,
    headers: &HeaderMap,
    area: &str,
    month: &str,
    query: &HashMap<String, String>,
) -> Result<Document, Response> {
    let (caller, _) = caller(state, headers, "bulletins").await?;
    let month = Month::parse(month).map_err(|m| bad(format!("month: {m}")))?;
    let vintage = match query.get("vintage") {
        None => None,
        Some(v) => Some(v.parse::<i32>().ok().filter(|v| *v >= 1).ok_or_else(|| {
            bad(format!(
                "vintage: \"{v}\" is not a vintage number (1, 2, …)"
            ))
        })?),
    };
    let internal = |e| database("bulletin", e);
    let access = Access::new(state.db.clone(), caller);
    let scope = access.scope().await.map_err(internal)?;
    let not_found = || {
        refuse(
            StatusCode::NOT_FOUND,
            Code::NotFound,
            format!("no bulletin of area `{area}` for {month} was found"),
        )
    };
    let Some(own) = periods::visible_area(&state.db, &scope, area)
        .await
        .map_err(internal)?
    else {
        return Err(not_found());
    };
    let read = periods::read_bulletin(&state.db, &scope, area, month, vintage)
        .await
        .map_err(internal)?
        .ok_or_else(not_found)?;
    let codes: Vec<String> = read
        .bulletin
        .reported
        .children
        .iter()
        .map(|(c, _)| c.clone())
        .collect();
    let names: HashMap<String, String> =
        crate::domain::find::by_keys::<entity::area::Entity, _>(&state.db, &scope, &codes)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|a| (a.code, a.name))
            .collect();
    let sheets = Indicator::ALL
        .iter()
        .map(|&indicator| Sheet {
            indicator,
            rows: periods::ranking(
                &read.bulletin.reported,
                read.previous.as_ref().map(|p| &p.reported),
                indicator,
            )
            .into_iter()
            .map(|e| {
                let name = names.get(&e.area).cloned().unwrap_or_default();
                (e, name)
            })
            .collect(),
        })
        .collect();
    Ok(Document {
        area_code: own.code,
        area_name: own.name,
        read,
        sheets,
    })
}

/// `GET /bulletins/{areaCode}/{file}`: `{month}.xlsx` is the workbook, `{month}` the page.
pub(super) async fn download(
    State(state): State<AppState>,
    Path((area, file)): Path<(String, String)>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Response {
    let (month, xlsx) = match file.strip_suffix(".xlsx") {
        Some(month) => (month, true),
        None => (file.as_str(), false),
    };
    let doc = match document(&state, &headers, &area, month, &query).await {
        Ok(doc) => doc,
        Err(response) => return response,
    };
    let private = (header::CACHE_CONTROL, "private, no-cache");
    if xlsx {
        match workbook::render(&doc) {
            Ok(bytes) => {
                let name = format!(
                    "attachment; filename=\"bulletin-{}-{}-v{}.xlsx\"",
                    doc.area_code, doc.read.bulletin.month, doc.read.bulletin.vintage
                );
                (
                    [
                        (
                            header::CONTENT_TYPE,
                            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
                                .to_owned(),
                        ),
                        (header::CONTENT_DISPOSITION, name),
                        (private.0, private.1.to_owned()),
                    ],
                    bytes,
                )
                    .into_response()
            }
            Err(e) => unwritten("bulletin workbook", e),
        }
    } else {
        (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8"), private],
            page::render(&doc),
        )
            .into_response()
    }
}

/// A rate as a percentage with one decimal (`80.0%`); `—` without one.
pub(crate) fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "—".to_owned(), |r| format!("{:.1}%", r * 100.0))
}

/// The change from the previous month in percentage points (`+20.0`); `—` when either rate is
/// missing.
pub(crate) fn change(rate: Option<f64>, previous: Option<f64>) -> Option<f64> {
    Some((rate? - previous?) * 100.0)
}
