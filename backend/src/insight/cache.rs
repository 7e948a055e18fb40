//! What the older tiles of a view add up to, kept between requests.
//!
//! A view over a month adds up thousands of rollup rows per tile, and all but the newest tiles
//! rarely change (a late or replayed job). Each tile has a version that every change to its rows
//! renews ([`job_rollups::tile_versions`]); a request reads the versions of its older tiles and
//! reuses their sums while those are unchanged, so only the newest tiles are added up again. The
//! answer is the same as without the cache, on any replica.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, Utc};
use sqlx::PgPool;

use crate::db::job_rollups::{self, KeyFilter, RowKey, Sum, TileTag};
use crate::domain::job_rollup::{JobCounters, JobScope};
use crate::domain::rollup::hour_of;

/// Rows kept in all (about a kilobyte each): a month of jobs of a few thousand jobs, with the
/// month before.
const MAX_ROWS: usize = 20_000;

/// Tiles that ended this long before the current hour are the cached ones; the newer ones are
/// still being folded into and are added up at every request.
const SETTLED: TimeDelta = TimeDelta::hours(1);

type Rows = Arc<Vec<(u32, RowKey, JobCounters)>>;

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    scope: JobScope,
    sum: Sum,
    tiles: Vec<TileTag>,
}

struct Entry {
    versions: Vec<i64>,
    rows: Rows,
    /// When it was last used (a request counter), for eviction.
    used: u64,
}

/// Sums of settled tiles, shared by the requests of one process.
#[derive(Default)]
pub struct TileCache {
    entries: Mutex<(HashMap<Key, Entry>, u64)>,
}

impl TileCache {
    /// [`job_rollups::sums`] over `tiles` without a key filter: the settled tiles' sums from
    /// the cache when their versions are unchanged, the others from the database.
    pub async fn sums(
        &self,
        pool: &PgPool,
        scope: JobScope,
        tiles: &[TileTag],
        sum: Sum,
        now: DateTime<Utc>,
    ) -> sqlx::Result<Vec<(u32, RowKey, JobCounters)>> {
        let settled_by = hour_of(now) - SETTLED;
        let (settled, recent): (Vec<TileTag>, Vec<TileTag>) = tiles
            .iter()
            .partition(|(grain, bucket, _, _)| *bucket + grain.step() <= settled_by);
        let none = KeyFilter::default();
        if settled.is_empty() {
            return job_rollups::sums(pool, scope, tiles, &none, sum).await;
        }
        let key = Key {
            scope,
            sum,
            tiles: settled,
        };
        // Versions first: rows read after them are at least as new, never older.
        let versions = job_rollups::tile_versions(pool, scope, &key.tiles).await?;
        let mut rows = match self.get(&key, &versions) {
            Some(rows) => rows.as_ref().clone(),
            None => {
                let rows = job_rollups::sums(pool, scope, &key.tiles, &none, sum).await?;
                if rows.len() <= MAX_ROWS {
                    self.put(key, versions, Arc::new(rows.clone()));
                }
                rows
            }
        };
        rows.extend(job_rollups::sums(pool, scope, &recent, &none, sum).await?);
        Ok(rows)
    }

    fn get(&self, key: &Key, versions: &[i64]) -> Option<Rows> {
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (entries, clock) = &mut *guard;
        *clock += 1;
        let entry = entries.get_mut(key).filter(|e| e.versions == versions)?;
        entry.used = *clock;
        Some(entry.rows.clone())
    }

    fn put(&self, key: Key, versions: Vec<i64>, rows: Rows) {
        let mut guard = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        let (entries, clock) = &mut *guard;
        entries.remove(&key);
        // The least recently used go first until the new entry fits.
        while entries.values().map(|e| e.rows.len()).sum::<usize>() + rows.len() > MAX_ROWS {
            let Some(oldest) = entries.iter().min_by_key(|(_, e)| e.used).map(|(k, _)| k.clone()) else {
                break;
            };
            entries.remove(&oldest);
        }
        entries.insert(
            key,
            Entry {
                versions,
                rows,
                used: *clock,
            },
        );
    }
}
