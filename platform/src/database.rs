//! A simulated CRM database: a connection pool, realistic latency, errors and brownouts.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use insa_metrics::{ClassifyError, metrics, track_database_operation};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::rng::SharedRng;

/// A database failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DbError {
    /// No connection became free in time.
    PoolTimeout,
    /// The connection dropped mid-query.
    ConnectionLost,
    /// The transaction was chosen as a deadlock victim.
    Deadlock,
    /// A referenced row does not exist (permanent).
    ForeignKey,
    /// No such row (permanent).
    NotFound,
}

impl DbError {
    /// Whether running the statement again may succeed.
    #[must_use]
    pub fn is_transient(self) -> bool {
        matches!(
            self,
            DbError::PoolTimeout | DbError::ConnectionLost | DbError::Deadlock
        )
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.error_type())
    }
}

impl std::error::Error for DbError {}

/// The `error_type` of `insa_database_errors_total`; a pool timeout is a timeout.
impl ClassifyError for DbError {
    fn is_timeout(&self) -> bool {
        matches!(self, DbError::PoolTimeout)
    }

    fn error_type(&self) -> &'static str {
        match self {
            DbError::PoolTimeout => "pool_timeout",
            DbError::ConnectionLost => "connection_lost",
            DbError::Deadlock => "deadlock",
            DbError::ForeignKey => "foreign_key",
            DbError::NotFound => "not_found",
        }
    }
}

/// The behaviour of the simulated database.
#[derive(Debug, Clone, Copy)]
pub struct DbConfig {
    /// Connections the pool opens at most.
    pub max_connections: usize,
    /// Idle connections the pool keeps open.
    pub min_idle: usize,
    /// How long a query waits for a connection.
    pub pool_timeout: Duration,
    /// Median latency of a read; writes take twice as long.
    pub read_latency: Duration,
    /// Probability that a statement fails transiently.
    pub error_rate: f64,
    /// When the first brownout starts, after the database is created.
    pub first_brownout: Duration,
    /// Time between the starts of two brownouts (e.g. failovers, vacuum).
    pub brownout_every: Duration,
    /// How long a brownout lasts: latency ×50 and most statements fail.
    pub brownout_length: Duration,
}

impl Default for DbConfig {
    fn default() -> Self {
        DbConfig {
            max_connections: 8,
            min_idle: 2,
            pool_timeout: Duration::from_millis(500),
            read_latency: Duration::from_millis(4),
            error_rate: 0.01,
            first_brownout: Duration::from_secs(8),
            brownout_every: Duration::from_secs(45),
            brownout_length: Duration::from_secs(3),
        }
    }
}

/// A contact of the CRM.
#[derive(Debug, Clone, PartialEq)]
pub struct Contact {
    /// Its id.
    pub id: u64,
    /// Display name.
    pub name: String,
    /// The deal it belongs to.
    pub deal_id: u64,
}

/// A user of the platform.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    /// Its id.
    pub id: u64,
    /// The login.
    pub login: String,
}

/// The state of a deal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DealStage {
    /// First contact.
    Lead,
    /// Offer sent.
    Proposal,
    /// Signed.
    Won,
}

/// A deal row.
#[derive(Debug, Clone, PartialEq)]
pub struct Deal {
    /// The stage.
    pub stage: DealStage,
    /// Recommended system size attached by the sizing agent, in kWp.
    pub sized_kw: Option<f64>,
    /// Activities logged.
    pub activities: u32,
}

/// The simulated database, shared by the agents.
#[derive(Debug)]
pub struct Database {
    name: &'static str,
    config: DbConfig,
    pool: Semaphore,
    open: AtomicUsize,
    in_use: AtomicUsize,
    created: Instant,
    deals: Mutex<HashMap<u64, Deal>>,
    rng: SharedRng,
}

/// A connection taken from the pool, returned on drop.
#[derive(Debug)]
struct Connection<'a> {
    db: &'a Database,
    _permit: SemaphorePermit<'a>,
}

impl Drop for Connection<'_> {
    fn drop(&mut self) {
        self.db.in_use.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Deals the CRM holds: ids `1..=DEALS`, except the deleted ones.
pub const DEALS: u64 = 400;

/// Whether the deal was deleted (a sizing for it fails with a foreign key error).
#[must_use]
pub fn is_deleted_deal(deal_id: u64) -> bool {
    deal_id.is_multiple_of(29)
}

impl Database {
    /// A database named `name` (the `database_name` label) with its deals.
    #[must_use]
    pub fn new(name: &'static str, config: DbConfig) -> Self {
        let deals = (1..=DEALS)
            .filter(|id| !is_deleted_deal(*id))
            .map(|id| {
                let deal = Deal {
                    stage: DealStage::Lead,
                    sized_kw: None,
                    activities: 0,
                };
                (id, deal)
            })
            .collect();
        metrics().update_connection_pool_size(name, 0);
        Database {
            name,
            config,
            pool: Semaphore::new(config.max_connections),
            open: AtomicUsize::new(0),
            in_use: AtomicUsize::new(0),
            created: Instant::now(),
            deals: Mutex::new(deals),
            rng: SharedRng::new(),
        }
    }

    /// Connections open now.
    #[must_use]
    pub fn open_connections(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Whether the database is in a brownout at `now`.
    #[must_use]
    pub fn in_brownout(&self, now: Instant) -> bool {
        let Some(since) = now
            .duration_since(self.created)
            .checked_sub(self.config.first_brownout)
        else {
            return false;
        };
        let every = self.config.brownout_every.as_nanos().max(1);
        since.as_nanos() % every < self.config.brownout_length.as_nanos()
    }

    /// Closes idle connections above `min_idle` (the pool's reaper).
    pub fn reap_idle(&self) {
        let keep = self
            .in_use
            .load(Ordering::Acquire)
            .max(self.config.min_idle);
        let open = self.open.load(Ordering::Acquire);
        if open > keep {
            self.open.store(keep, Ordering::Release);
            self.publish_pool();
        }
    }

    /// Loads a user (sessions authenticate with it).
    #[track_database_operation("select", "users")]
    pub async fn select_user(&self, id: u64) -> Result<User, DbError> {
        self.statement(1.0).await?;
        Ok(User {
            id,
            login: format!("user{id}"),
        })
    }

    /// Loads a contact.
    #[track_database_operation("select", "contacts")]
    pub async fn select_contact(&self, id: u64) -> Result<Contact, DbError> {
        self.statement(1.0).await?;
        let deal_id = id % DEALS + 1;
        Ok(Contact {
            id,
            name: format!("Contact {id}"),
            deal_id,
        })
    }

    /// Moves a deal to `stage`.
    #[track_database_operation("update", "deals")]
    pub async fn update_deal(&self, deal_id: u64, stage: DealStage) -> Result<(), DbError> {
        self.statement(2.0).await?;
        let mut deals = self.deals.lock().unwrap_or_else(PoisonError::into_inner);
        let deal = deals.get_mut(&deal_id).ok_or(DbError::NotFound)?;
        deal.stage = stage;
        Ok(())
    }

    /// Logs an activity on a deal.
    #[track_database_operation("insert", "activities")]
    pub async fn insert_activity(&self, deal_id: u64) -> Result<(), DbError> {
        self.statement(2.0).await?;
        let mut deals = self.deals.lock().unwrap_or_else(PoisonError::into_inner);
        let deal = deals.get_mut(&deal_id).ok_or(DbError::ForeignKey)?;
        deal.activities += 1;
        Ok(())
    }

    /// Attaches a sizing result to its deal.
    #[track_database_operation("insert", "sizings")]
    pub async fn insert_sizing(&self, deal_id: u64, kw_peak: f64) -> Result<(), DbError> {
        self.statement(2.0).await?;
        let mut deals = self.deals.lock().unwrap_or_else(PoisonError::into_inner);
        let deal = deals.get_mut(&deal_id).ok_or(DbError::ForeignKey)?;
        deal.sized_kw = Some(kw_peak);
        Ok(())
    }

    /// The deal, if it exists.
    #[must_use]
    pub fn deal(&self, deal_id: u64) -> Option<Deal> {
        self.deals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&deal_id)
            .cloned()
    }

    /// Runs one statement costing `weight` reads: a connection from the pool,
    /// the latency, and the chance of a transient failure.
    async fn statement(&self, weight: f64) -> Result<(), DbError> {
        let _connection = self.connect().await?;
        let brownout = self.in_brownout(Instant::now());
        let (latency, failure) = self.rng.with(|rng| {
            let median = self.config.read_latency.mul_f64(weight);
            let mut latency = rng.latency(median, 0.6, Duration::from_secs(2));
            let mut error_rate = self.config.error_rate;
            if brownout {
                // Most statements fail: with the default three attempts, a
                // write fails for good about half the time (0.8³), so the
                // first brownout (8 s in) always leaves dead letters behind,
                // and every family has data within 30 s of the start.
                latency = latency.mul_f64(50.0);
                error_rate = 0.8;
            }
            let failure = rng.chance(error_rate).then(|| {
                if weight > 1.0 && rng.chance(0.5) {
                    DbError::Deadlock
                } else {
                    DbError::ConnectionLost
                }
            });
            (latency, failure)
        });
        tokio::time::sleep(latency).await;
        failure.map_or(Ok(()), Err)
    }

    async fn connect(&self) -> Result<Connection<'_>, DbError> {
        let permit = tokio::time::timeout(self.config.pool_timeout, self.pool.acquire())
            .await
            .map_err(|_| DbError::PoolTimeout)?
            .map_err(|_| DbError::ConnectionLost)?;
        let in_use = self.in_use.fetch_add(1, Ordering::AcqRel) + 1;
        if self.open.fetch_max(in_use, Ordering::AcqRel) < in_use {
            // A new connection: the handshake costs a round trip.
            tokio::time::sleep(Duration::from_millis(2)).await;
            self.publish_pool();
        }
        Ok(Connection {
            db: self,
            _permit: permit,
        })
    }

    fn publish_pool(&self) {
        let open = i64::try_from(self.open.load(Ordering::Acquire)).unwrap_or(i64::MAX);
        metrics().update_connection_pool_size(self.name, open);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet() -> DbConfig {
        DbConfig {
            error_rate: 0.0,
            read_latency: Duration::from_micros(100),
            first_brownout: Duration::from_secs(3600),
            ..DbConfig::default()
        }
    }

    #[test]
    fn brownouts_follow_the_schedule() {
        let db = Database::new("test_db", DbConfig::default());
        let at = |secs| db.created + Duration::from_secs(secs);
        assert!(!db.in_brownout(at(7)));
        assert!(db.in_brownout(at(9)));
        assert!(!db.in_brownout(at(12)));
        assert!(db.in_brownout(at(8 + 45 + 1)));
    }

    #[tokio::test]
    async fn the_pool_grows_with_concurrency_and_is_reaped() {
        let db = std::sync::Arc::new(Database::new("test_db", quiet()));
        let calls: Vec<_> = (0..6)
            .map(|id| {
                let db = std::sync::Arc::clone(&db);
                tokio::spawn(async move { db.select_contact(id).await })
            })
            .collect();
        for call in calls {
            assert!(call.await.unwrap().is_ok());
        }
        assert!(db.open_connections() > 2, "{}", db.open_connections());
        db.reap_idle();
        assert_eq!(db.open_connections(), 2);
    }

    #[tokio::test]
    async fn writes_to_missing_deals_fail_permanently() {
        let db = Database::new("test_db", quiet());
        assert_eq!(db.insert_sizing(29, 5.0).await, Err(DbError::ForeignKey));
        assert!(!DbError::ForeignKey.is_transient());
        db.insert_sizing(30, 5.0).await.unwrap();
        assert_eq!(db.deal(30).unwrap().sized_kw, Some(5.0));
        db.update_deal(30, DealStage::Won).await.unwrap();
        assert_eq!(db.deal(30).unwrap().stage, DealStage::Won);
    }
}
