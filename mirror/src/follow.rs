//! Following the feed: each page of changes applied to the copy, the files rewritten after
//! every page that changed them.

use crate::client::Client;
use crate::records::{self, fragment};
use crate::store::Store;
use crate::Error;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;
use std::path::Path;

#[derive(Deserialize)]
struct Data {
    changes: Page,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    changes: Vec<Change>,
    end_cursor: String,
    has_more: bool,
}

#[derive(Deserialize)]
struct Change {
    id: String,
    op: String,
    version: i32,
    record: Option<Box<RawValue>>,
}

fn query() -> String {
    format!(
        "query($after: String!, $first: Int!) {{ changes(after: $after, first: $first) {{ \
         changes {{ id op version record {{ __typename ...MirrorArea ...MirrorSite ...MirrorWork \
         ...MirrorHousehold ...MirrorMember ...MirrorEmployment ...MirrorHomestead }} }} \
         endCursor hasMore }} }}\n{}",
        fragment::ALL.join("\n")
    )
}

/// Applies one change; whether the copy changed.
///
/// An upsert's `record` is the record as it is when the page is read, so it is held unless
/// the copy already holds a newer version; a null record (deleted or out of sight since) is
/// skipped, as a later change says so. A delete or a departure from the scope drops the record
/// unless the copy holds a newer version: its version may equal the copy's, as a household's
/// members, employments and homesteads leave with it unchanged.
fn apply(store: &mut Store, change: Change) -> Result<bool, Error> {
    let held = store.version(&change.id);
    match change.op.as_str() {
        "UPSERT" => {
            let Some(raw) = change.record else {
                return Ok(false);
            };
            let Some(record) = records::from_node(&raw)? else {
                return Ok(false);
            };
            if held.is_some_and(|v| v > record.row.version) {
                return Ok(false);
            }
            store.put(record);
            Ok(true)
        }
        "DELETE" | "LEFT_SCOPE" => {
            if held.is_some_and(|v| v > change.version) {
                return Ok(false);
            }
            Ok(store.remove(&change.id))
        }
        op => Err(Error::Api {
            code: "UNKNOWN_OP".into(),
            message: format!("a change of unknown kind `{op}`"),
        }),
    }
}

/// Reads the feed to its end (`hasMore: false`), applying every change and saving the copy
/// into `dir` after each page that changed it; returns the changes applied.
pub async fn catch_up(
    client: &Client,
    store: &mut Store,
    dir: &Path,
    page_size: &mut u32,
) -> Result<usize, Error> {
    let query = query();
    let mut applied = 0;
    loop {
        let data: Result<Data, Error> = client
            .query(
                &query,
                json!({ "after": store.cursor, "first": *page_size }),
            )
            .await;
        let page = match data {
            Ok(data) => data.changes,
            // A page of records that costs more than the server allows: ask for fewer.
            Err(Error::Api { code, .. }) if code == "QUERY_TOO_COSTLY" && *page_size > 1 => {
                *page_size /= 2;
                tracing::info!(page_size = *page_size, "smaller pages of changes");
                continue;
            }
            Err(e) => return Err(e),
        };
        let mut changed = false;
        for change in page.changes {
            if apply(store, change)? {
                changed = true;
                applied += 1;
            }
        }
        store.cursor = page.end_cursor;
        if changed {
            store.save(dir)?;
        }
        if !page.has_more {
            return Ok(applied);
        }
    }
}
