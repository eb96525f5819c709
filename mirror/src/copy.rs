//! The copy (CONTRACT §5's copying protocol): take `changesHead` first, then read every record
//! of the caller's scope through the ordinary connections, a page of 100 at a time. The records
//! need not agree with each other, as pages are read at different moments: following the feed
//! from the head taken first brings them together.

use crate::client::Client;
use crate::records::{
    fragment, Area, Employment, Homestead, Household, Member, Record, Site, Work,
};
use crate::store::Store;
use crate::Error;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::json;
use serde_json::value::RawValue;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
}

/// A page of a connection, each node kept as its JSON text (read as a record, and again for
/// the lists nested in it).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connection {
    nodes: Vec<Box<RawValue>>,
    page_info: PageInfo,
}

#[derive(Deserialize)]
struct Listed {
    list: Connection,
}

#[derive(Deserialize)]
struct NodeListed {
    node: Option<Listed>,
}

/// A list nested in a record, and the record's id to read the rest of it by.
#[derive(Deserialize)]
struct Parent {
    id: String,
    nested: Connection,
}

const PAGE_INFO: &str = "pageInfo { hasNextPage endCursor }";

/// Every node of the top-level list `field` (e.g. `areas(first: 100, after: $after)`), each
/// selected by `selection`, with `fragments`.
async fn list(
    client: &Client,
    field: &str,
    selection: &str,
    fragments: &[&str],
) -> Result<Vec<Box<RawValue>>, Error> {
    let query = format!(
        "query($after: String) {{ list: {field} {{ nodes {{ {selection} }} {PAGE_INFO} }} }}\n{}",
        fragments.join("\n")
    );
    let mut after: Option<String> = None;
    let mut nodes = Vec::new();
    loop {
        let page: Listed = client.query(&query, json!({ "after": after })).await?;
        nodes.extend(page.list.nodes);
        match page.list.page_info {
            PageInfo {
                has_next_page: true,
                end_cursor: Some(cursor),
            } => after = Some(cursor),
            _ => return Ok(nodes),
        }
    }
}

/// Every node of the list nested in `parent` (its first page already read): the rest is read
/// through `node(id:)`, as `on_type { nested(...) }`.
async fn nested(
    client: &Client,
    parent: &RawValue,
    on_type: &str,
    field: &str,
    fragment: &str,
) -> Result<Vec<Box<RawValue>>, Error> {
    let Parent { id, nested } = serde_json::from_str(parent.get())?;
    let mut nodes = nested.nodes;
    let mut info = nested.page_info;
    let name = fragment_name(fragment);
    let query = format!(
        "query($id: ID!, $after: String) {{ node(id: $id) {{ ... on {on_type} {{ list: {field}(first: 100, after: $after) {{ nodes {{ ...{name} }} {PAGE_INFO} }} }} }} }}\n{fragment}"
    );
    while let PageInfo {
        has_next_page: true,
        end_cursor: Some(after),
    } = info
    {
        let page: NodeListed = client
            .query(&query, json!({ "id": id, "after": after }))
            .await?;
        let Some(page) = page.node else {
            // The parent went out of sight meanwhile: the feed says what became of it.
            break;
        };
        nodes.extend(page.list.nodes);
        info = page.list.page_info;
    }
    Ok(nodes)
}

fn fragment_name(fragment: &str) -> &str {
    fragment
        .strip_prefix("fragment ")
        .and_then(|f| f.split_whitespace().next())
        .unwrap_or_default()
}

fn read<T: DeserializeOwned + Into<Record>>(node: &RawValue) -> Result<Record, Error> {
    Ok(serde_json::from_str::<T>(node.get())?.into())
}

/// Copies the caller's scope: the head first, then every record.
pub async fn copy(client: &Client) -> Result<Store, Error> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Head {
        changes_head: String,
    }
    let head: Head = client.query("{ changesHead }", json!({})).await?;
    let mut store = Store::new(head.changes_head);

    for node in list(
        client,
        "areas(first: 100, after: $after)",
        "...MirrorArea",
        &[fragment::AREA],
    )
    .await?
    {
        store.put(read::<Area>(&node)?);
    }

    let works = format!("nested: works(first: 100) {{ nodes {{ ...MirrorWork }} {PAGE_INFO} }}");
    for node in list(
        client,
        "sites(first: 100, after: $after)",
        &format!("...MirrorSite {works}"),
        &[fragment::SITE, fragment::WORK],
    )
    .await?
    {
        store.put(read::<Site>(&node)?);
        for work in nested(client, &node, "ResettlementSite", "works", fragment::WORK).await? {
            store.put(read::<Work>(&work)?);
        }
    }

    for node in list(
        client,
        "households(first: 100, after: $after)",
        "...MirrorHousehold",
        &[fragment::HOUSEHOLD],
    )
    .await?
    {
        store.put(read::<Household>(&node)?);
    }

    let employments = format!(
        "nested: employments(first: 100) {{ nodes {{ ...MirrorEmployment }} {PAGE_INFO} }}"
    );
    for node in list(
        client,
        "members(first: 100, after: $after)",
        &format!("...MirrorMember {employments}"),
        &[fragment::MEMBER, fragment::EMPLOYMENT],
    )
    .await?
    {
        store.put(read::<Member>(&node)?);
        for employment in
            nested(client, &node, "Member", "employments", fragment::EMPLOYMENT).await?
        {
            store.put(read::<Employment>(&employment)?);
        }
    }

    for node in list(
        client,
        "homesteads(first: 100, after: $after)",
        "...MirrorHomestead",
        &[fragment::HOMESTEAD],
    )
    .await?
    {
        store.put(read::<Homestead>(&node)?);
    }
    Ok(store)
}
