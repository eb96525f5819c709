//! Subscriptions (CONTRACT §8): live indicators and the change feed's head.
//!
//! Each subscription sends its current value first, then waits for a hint
//! ([`crate::cache::hints`]) that a generation it depends on moved, and sends the new value: at
//! most one a second, the last change of a burst always included (hints arriving meanwhile are
//! folded into the next value). Values are computed exactly as the queries compute them, for
//! the socket's caller and its scope, each time: a scope that leaves the caller's sight, or
//! ceases to exist, answers `NOT_FOUND` as the query would.

use super::errors::GqlResult;
use super::indicators::{today, IndicatorSet, ScopeInput};
use super::scalars::Date;
use crate::auth::scope::Access;
use crate::cache::hints::Hint;
use crate::cache::{generation, Cache, GenScope, Generation};
use crate::domain::changes;
use crate::domain::indicators::{read, Target};
use crate::domain::reads::{Batched, Reads};
use crate::domain::scope::Scope;
use crate::error::Result as DomainResult;
use async_graphql::{Context, Result, Subscription};
use futures::Stream;
use sea_orm::DatabaseConnection;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{self, error::RecvError};
use tokio::time::Instant;

/// Shortest time between two values of one subscription.
pub const COALESCE: Duration = Duration::from_secs(1);

/// The root subscription.
#[derive(Default)]
pub struct Subscription;

/// Live values, over a WebSocket on `/graphql` (protocol `graphql-transport-ws`, credentials in
/// the `connection_init` payload as `{"authorization": "Bearer …"}`): each sends its current
/// value first, then a new one after each committed change to it, at most one a second.
#[Subscription]
impl Subscription {
    /// Every indicator for a scope, sent first as it stands, then after each committed change
    /// to it (at most one value a second, the latest always included). `asOf` defaults to
    /// today (China Standard Time) at each value. A scope you may not see, or that does not
    /// exist, is a `NOT_FOUND` error, as for `indicators`.
    #[graphql(complexity = "10 + child_complexity")]
    async fn indicators_changed(
        &self,
        ctx: &Context<'_>,
        #[graphql(desc = "The area or site to compute for.")] scope: ScopeInput,
        #[graphql(desc = "The date to compute for; defaults to today (China Standard Time).")]
        as_of: Option<Date>,
    ) -> Result<impl Stream<Item = Result<IndicatorSet>>> {
        let live = Live::of(ctx)?;
        let target: Target = scope.into();
        let deps = read::depends_on(&target);
        // Listen before reading: a change committed in between is then heard.
        let hints = live.cache.hints().listen();
        let seen = generation::read(&live.db, &deps).await.gql()?;
        let first = live.indicators(&target, as_of, &deps, &seen).await.gql()?;
        let watch = Watch::new(hints, deps, seen);
        Ok(futures::stream::unfold(
            (Some(first), watch, live, target),
            move |(first, mut watch, live, target)| async move {
                if let Some(first) = first {
                    return Some((Ok(first), (None, watch, live, target)));
                }
                watch.next_change(&live.db).await?;
                let value = live
                    .indicators(&target, as_of, &watch.deps, &watch.seen)
                    .await
                    .gql();
                Some((value, (None, watch, live, target)))
            },
        ))
    }

    /// The change feed's head (what `changesHead` answers), sent first as it stands, then each
    /// time it moves (at most once a second): follow `changes` from your last cursor.
    async fn changes_available(
        &self,
        ctx: &Context<'_>,
    ) -> Result<impl Stream<Item = Result<String>>> {
        let live = Live::of(ctx)?;
        if live.access.principal().is_none() {
            return Err(super::access::unauthenticated(
                "credentials are required to follow the change feed".into(),
            ));
        }
        let deps = vec![GenScope::Register];
        let hints = live.cache.hints().listen();
        let seen = generation::read(&live.db, &deps).await.gql()?;
        let head = changes::head(&live.db).await.gql()?;
        let watch = Watch::new(hints, deps, seen);
        Ok(futures::stream::unfold(
            (Some(head.clone()), head, watch, live),
            |(first, mut last, mut watch, live)| async move {
                if let Some(first) = first {
                    return Some((Ok(first), (None, last, watch, live)));
                }
                loop {
                    watch.next_change(&live.db).await?;
                    match changes::head(&live.db).await {
                        // Another write than the feed's (a generation raised by an import
                        // that changed nothing, say) leaves the head where it was.
                        Ok(head) if head == last => continue,
                        Ok(head) => {
                            last = head.clone();
                            return Some((Ok(head), (None, last, watch, live)));
                        }
                        Err(e) => return Some((Err(e).gql(), (None, last, watch, live))),
                    }
                }
            },
        ))
    }
}

/// What a subscription reads with: the database, the cache and the socket's caller.
struct Live {
    db: DatabaseConnection,
    cache: Cache,
    access: Arc<Access>,
}

impl Live {
    fn of(ctx: &Context<'_>) -> Result<Live> {
        Ok(Live {
            db: ctx.data::<DatabaseConnection>()?.clone(),
            cache: ctx.data::<Cache>()?.clone(),
            access: ctx.data::<Arc<Access>>()?.clone(),
        })
    }

    /// The indicators of `target`, computed as the `indicators` query computes them, under the
    /// generations `seen` of `deps`.
    async fn indicators(
        &self,
        target: &Target,
        as_of: Option<Date>,
        deps: &[GenScope],
        seen: &[Generation],
    ) -> DomainResult<IndicatorSet> {
        let scope = self.access.scope().await?;
        let fresh = Fresh {
            db: &self.db,
            scope: &scope,
            known: deps.iter().cloned().zip(seen.iter().copied()).collect(),
        };
        let reads = Reads::new(&self.db, &self.cache, &scope, &fresh);
        let as_of = as_of.map(|d| d.0).unwrap_or_else(today);
        read::indicators(&reads, target, as_of)
            .await
            .map(IndicatorSet)
    }
}

/// A subscription's reads, one statement each (a subscription's value reads a handful of
/// things, no page of records that would want batching). Generations it is watching are the
/// ones it saw move, which are the database's.
struct Fresh<'a> {
    db: &'a DatabaseConnection,
    scope: &'a Scope,
    known: Vec<(GenScope, Generation)>,
}

impl Batched for Fresh<'_> {
    async fn generations(&self, scopes: &[GenScope]) -> DomainResult<Vec<Generation>> {
        let known: Option<Vec<Generation>> = scopes
            .iter()
            .map(|s| self.known.iter().find(|(k, _)| k == s).map(|(_, g)| *g))
            .collect();
        match known {
            Some(gens) => Ok(gens),
            None => Ok(generation::read(self.db, scopes).await?),
        }
    }

    async fn area_below(&self, code: &str) -> DomainResult<bool> {
        let below =
            crate::domain::find::areas_below(self.db, self.scope, &[code.to_owned()]).await?;
        Ok(below.contains(code))
    }

    async fn site_visible(&self, code: &str) -> DomainResult<bool> {
        let found = crate::domain::find::by_keys::<entity::site::Entity, _>(
            self.db,
            self.scope,
            &[code.to_owned()],
        )
        .await?;
        Ok(!found.is_empty())
    }
}

/// Waits for the generations a subscription depends on to move.
struct Watch {
    hints: broadcast::Receiver<Hint>,
    deps: Vec<GenScope>,
    /// The generations of `deps` the last value was computed under (or is to be).
    seen: Vec<Generation>,
    /// When the last value was sent.
    sent: Instant,
}

impl Watch {
    fn new(hints: broadcast::Receiver<Hint>, deps: Vec<GenScope>, seen: Vec<Generation>) -> Self {
        Watch {
            hints,
            deps,
            seen,
            sent: Instant::now(),
        }
    }

    /// Takes in what `hint` says of the watched generations; true if one moved.
    fn take(&mut self, hint: &Hint) -> bool {
        let mut moved = false;
        for (dep, seen) in self.deps.iter().zip(self.seen.iter_mut()) {
            if let Some(g) = hint.moved(dep) {
                if g.is_after(seen) {
                    *seen = g;
                    moved = true;
                }
            }
        }
        moved
    }

    /// Reads the watched generations from the database (hints may have been lost); true if
    /// one moved.
    async fn recheck(&mut self, db: &DatabaseConnection) -> bool {
        let Ok(now) = generation::read(db, &self.deps).await else {
            return false;
        };
        let mut moved = false;
        for (seen, g) in self.seen.iter_mut().zip(now) {
            if g.is_after(seen) {
                *seen = g;
                moved = true;
            }
        }
        moved
    }

    /// Returns once a watched generation has moved and at least [`COALESCE`] has passed since
    /// the last value; hints that arrive while it waits are folded in. `None` when the bus is
    /// gone (the server is stopping).
    async fn next_change(&mut self, db: &DatabaseConnection) -> Option<()> {
        loop {
            let moved = match self.hints.recv().await {
                Ok(Hint::Recheck) => self.recheck(db).await,
                Ok(hint) => self.take(&hint),
                Err(RecvError::Lagged(_)) => self.recheck(db).await,
                Err(RecvError::Closed) => return None,
            };
            if moved {
                break;
            }
        }
        tokio::time::sleep_until(self.sent + COALESCE).await;
        loop {
            match self.hints.try_recv() {
                Ok(hint) => {
                    self.take(&hint);
                }
                Err(broadcast::error::TryRecvError::Lagged(_)) => {
                    self.recheck(db).await;
                }
                Err(_) => break,
            }
        }
        self.sent = Instant::now();
        Some(())
    }
}
