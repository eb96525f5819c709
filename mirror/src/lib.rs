//! `anju mirror`: a reference consumer of the change feed (CONTRACT §5). It copies what its API
//! key may see of the register through the ordinary GraphQL connections, follows `changes`
//! from the head it took before the copy, and keeps the result as the seven CSV files of
//! CONTRACT §1 in a folder, written exactly as `anju export` writes them: an export of the same
//! scope (`anju export --area …`) taken when the mirror has caught up is the same bytes.
//!
//! The copy lives in the folder as `.mirror.json` (the cursor and every record with its
//! version), so a restart continues where the last run stopped. A cursor the API can no longer
//! follow (`RESYNC_REQUIRED`) starts a fresh copy.
//!
//! It talks to the API over HTTP only, as any other client would, so it lives outside the
//! service's library.

mod client;
mod copy;
mod follow;
mod records;
mod store;

pub use records::Kind;
pub use store::STATE_FILE;

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Most changes one page of the feed may hold.
pub const MAX_PAGE: u32 = 1000;

/// What to mirror, and how.
#[derive(Debug, Clone)]
pub struct Options {
    /// The API: its base URL or its `/graphql` endpoint.
    pub url: String,
    /// The API key (its role needs the personal-data grant for unmasked files).
    pub key: String,
    /// The folder of the seven files and the state.
    pub dir: PathBuf,
    /// Keep following the feed after catching up, until stopped.
    pub follow: bool,
    /// How long to wait between polls when following.
    pub interval: Duration,
    /// Changes per page (1–1000; smaller when the server finds a page too costly).
    pub page_size: u32,
}

/// Why mirroring stopped.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API refused a request.
    #[error("the API answered {code}: {message}")]
    Api { code: String, message: String },
    /// The feed can no longer be followed from the copy's cursor.
    #[error("the copy must be made again: {0}")]
    Resync(String),
    #[error("cannot reach the API: {0}")]
    Http(#[from] reqwest::Error),
    #[error("unexpected answer from the API: {0}")]
    Json(#[from] serde_json::Error),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
}

impl Error {
    fn io(path: &Path, source: std::io::Error) -> Error {
        Error::Io {
            path: path.display().to_string(),
            source,
        }
    }
}

/// What a run did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Copies made (the first run's, and one per resync).
    pub copies: usize,
    /// Changes applied from the feed.
    pub applied: usize,
    /// Records held at the end, by kind.
    pub records: BTreeMap<Kind, usize>,
}

/// Mirrors as `options` say: continues the copy in `options.dir` (or makes one), catches up
/// with the feed, and with `follow` polls it until `stop` completes; then catches up once more
/// and returns.
pub async fn run(options: &Options, stop: impl Future<Output = ()>) -> Result<Report, Error> {
    let client = client::Client::new(&options.url, &options.key)?;
    let dir = options.dir.as_path();
    let mut page_size = options.page_size.clamp(1, MAX_PAGE);
    let mut report = Report::default();
    let mut store = match store::Store::load(dir)? {
        Some(store) => store,
        None => fresh(&client, dir, &mut report).await?,
    };
    tokio::pin!(stop);
    let mut stopping = !options.follow;
    loop {
        match follow::catch_up(&client, &mut store, dir, &mut page_size).await {
            Ok(applied) => report.applied += applied,
            Err(Error::Resync(why)) => {
                tracing::warn!("{why}");
                store = fresh(&client, dir, &mut report).await?;
                continue;
            }
            Err(e) => return Err(e),
        }
        if stopping {
            break;
        }
        tokio::select! {
            () = tokio::time::sleep(options.interval) => {}
            () = &mut stop => stopping = true,
        }
    }
    store.save(dir)?;
    report.records = store.counts();
    Ok(report)
}

/// A fresh copy, saved.
async fn fresh(
    client: &client::Client,
    dir: &Path,
    report: &mut Report,
) -> Result<store::Store, Error> {
    let mut store = copy::copy(client).await?;
    store.save(dir)?;
    report.copies += 1;
    tracing::info!(records = ?store.counts(), "copied the scope");
    Ok(store)
}
