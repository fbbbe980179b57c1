//! [`SledSessionStore`]: tower-sessions records in the app's own sled database, so the example
//! needs no second database, and expired records are deleted.

use std::{fmt, time::Duration};

use async_trait::async_trait;
use sled::{
    Db, Tree,
    transaction::{ConflictableTransactionError, TransactionError, Transactional as _},
};
use tower_sessions::{
    SessionStore,
    cookie::time::OffsetDateTime,
    session::{Id, Record},
    session_store,
};

/// Sessions in two trees of a sled database:
///
/// | tree | key | value |
/// | --- | --- | --- |
/// | `sessions` | session id (16 bytes, big-endian) | the record as JSON |
/// | `session_expiries` | expiry (Unix seconds, 8 bytes big-endian) + session id | empty |
///
/// The second tree is sorted by expiry, so [`delete_expired`](Self::delete_expired) reads only
/// the records that are due instead of every record; both trees change in one transaction.
/// [`load`](SessionStore::load) never answers an expired record, even before the cleanup ran.
///
/// Every sled call runs on tokio's blocking pool: sled may block on the disk, and the runtime's
/// worker threads must not.
#[derive(Clone)]
pub struct SledSessionStore {
    records: Tree,
    expiries: Tree,
}

impl fmt::Debug for SledSessionStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SledSessionStore")
            .field("sessions", &self.records.len())
            .finish()
    }
}

fn backend(error: impl fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn id_key(id: &Id) -> [u8; 16] {
    id.0.to_be_bytes()
}

/// The big-endian Unix second, so keys sort by time; dates before 1970 sort first.
fn second_key(date: OffsetDateTime) -> [u8; 8] {
    u64::try_from(date.unix_timestamp())
        .unwrap_or(0)
        .to_be_bytes()
}

fn expiry_key(record: &Record) -> Vec<u8> {
    let mut key = second_key(record.expiry_date).to_vec();
    key.extend_from_slice(&id_key(&record.id));
    key
}

fn encode(record: &Record) -> session_store::Result<Vec<u8>> {
    serde_json::to_vec(record).map_err(|error| session_store::Error::Encode(error.to_string()))
}

fn decode(bytes: &[u8]) -> session_store::Result<Record> {
    serde_json::from_slice(bytes).map_err(|error| session_store::Error::Decode(error.to_string()))
}

/// Aborts a transaction with an encoding or decoding error.
type TxResult<T> = Result<T, ConflictableTransactionError<session_store::Error>>;

fn tx_error(error: TransactionError<session_store::Error>) -> session_store::Error {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => backend(error),
    }
}

impl SledSessionStore {
    /// The store on `db`'s `sessions` and `session_expiries` trees, created when missing. It
    /// blocks on sled: call it off the async runtime.
    pub fn open(db: &Db) -> sled::Result<Self> {
        Ok(Self {
            records: db.open_tree("sessions")?,
            expiries: db.open_tree("session_expiries")?,
        })
    }

    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Self) -> session_store::Result<T> + Send + 'static,
    ) -> session_store::Result<T> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || work(&store))
            .await
            .map_err(backend)?
    }

    /// Writes `record` unless `only_new` and its id is taken; answers whether it wrote. The old
    /// expiry entry of a rewritten record goes in the same transaction.
    fn write(&self, record: &Record, only_new: bool) -> session_store::Result<bool> {
        let key = id_key(&record.id);
        let value = encode(record)?;
        let expiry = expiry_key(record);
        (&self.records, &self.expiries)
            .transaction(|(records, expiries)| -> TxResult<bool> {
                let old = records.get(key)?;
                if only_new && old.is_some() {
                    return Ok(false);
                }
                if let Some(old) = old {
                    let old = decode(&old).map_err(ConflictableTransactionError::Abort)?;
                    expiries.remove(expiry_key(&old))?;
                }
                records.insert(&key[..], value.as_slice())?;
                expiries.insert(expiry.as_slice(), &[][..])?;
                Ok(true)
            })
            .map_err(tx_error)
    }

    /// Deletes every record whose expiry has passed; answers how many.
    pub async fn delete_expired(&self) -> session_store::Result<usize> {
        self.blocking(|store| {
            let now = OffsetDateTime::now_utc();
            let mut deleted = 0;
            for entry in store.expiries.range(..second_key(now).to_vec()) {
                let (expiry, _) = entry.map_err(backend)?;
                let Some(id) = expiry.get(8..).and_then(|id| <[u8; 16]>::try_from(id).ok()) else {
                    store.expiries.remove(&expiry).map_err(backend)?;
                    continue;
                };
                let removed = (&store.records, &store.expiries)
                    .transaction(|(records, expiries)| -> TxResult<bool> {
                        expiries.remove(&expiry)?;
                        // A record saved again since has a later expiry entry: keep it.
                        let Some(record) = records.get(id)? else {
                            return Ok(false);
                        };
                        let record =
                            decode(&record).map_err(ConflictableTransactionError::Abort)?;
                        if record.expiry_date > now {
                            return Ok(false);
                        }
                        records.remove(&id[..])?;
                        Ok(true)
                    })
                    .map_err(tx_error)?;
                deleted += usize::from(removed);
            }
            Ok(deleted)
        })
        .await
    }

    /// Deletes expired records every `period`, forever; spawn it as a task.
    pub async fn continuously_delete_expired(self, period: Duration) {
        let mut interval = tokio::time::interval(period);
        loop {
            interval.tick().await;
            match self.delete_expired().await {
                Ok(0) => {}
                Ok(deleted) => tracing::debug!(deleted, "deleted expired sessions"),
                Err(error) => tracing::error!(%error, "deleting expired sessions failed"),
            }
        }
    }
}

#[async_trait]
impl SessionStore for SledSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let mut candidate = record.clone();
        let written = self
            .blocking(move |store| {
                // Ids are 128 random bits; a collision is all but impossible, but an existing
                // session must never be overwritten by a new one.
                while !store.write(&candidate, true)? {
                    candidate.id = Id::default();
                }
                Ok(candidate.id)
            })
            .await?;
        record.id = written;
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let record = record.clone();
        self.blocking(move |store| store.write(&record, false).map(|_| ()))
            .await
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        let key = id_key(id);
        self.blocking(move |store| {
            let Some(bytes) = store.records.get(key).map_err(backend)? else {
                return Ok(None);
            };
            let record = decode(&bytes)?;
            Ok((record.expiry_date > OffsetDateTime::now_utc()).then_some(record))
        })
        .await
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let key = id_key(id);
        self.blocking(move |store| {
            (&store.records, &store.expiries)
                .transaction(|(records, expiries)| -> TxResult<()> {
                    if let Some(old) = records.remove(&key[..])? {
                        let old = decode(&old).map_err(ConflictableTransactionError::Abort)?;
                        expiries.remove(expiry_key(&old))?;
                    }
                    Ok(())
                })
                .map_err(tx_error)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use tower_sessions::cookie::time::Duration as TimeDuration;

    use super::*;

    fn store() -> SledSessionStore {
        let db = sled::Config::new()
            .temporary(true)
            .open()
            .expect("a temporary sled database");
        SledSessionStore::open(&db).expect("the trees open")
    }

    fn record(expires_in: TimeDuration) -> Record {
        Record {
            id: Id::default(),
            data: Default::default(),
            expiry_date: OffsetDateTime::now_utc() + expires_in,
        }
    }

    #[tokio::test]
    async fn records_round_trip_and_expired_ones_are_not_loaded() {
        let store = store();
        let mut live = record(TimeDuration::hours(1));
        live.data
            .insert("k".to_owned(), serde_json::json!({"v": [1, 2]}));
        store.create(&mut live).await.expect("create");
        assert_eq!(
            store.load(&live.id).await.expect("load"),
            Some(live.clone())
        );

        let mut dead = record(TimeDuration::seconds(-5));
        store.create(&mut dead).await.expect("create");
        assert_eq!(store.load(&dead.id).await.expect("load"), None);

        store.delete(&live.id).await.expect("delete");
        assert_eq!(store.load(&live.id).await.expect("load"), None);
    }

    #[tokio::test]
    async fn delete_expired_removes_only_expired_records_and_their_index_entries() {
        let store = store();
        let mut dead = record(TimeDuration::seconds(-5));
        store.create(&mut dead).await.expect("create");
        let mut live = record(TimeDuration::hours(1));
        store.create(&mut live).await.expect("create");
        // Saved again with a later expiry: the old index entry goes, the record stays.
        let mut renewed = record(TimeDuration::seconds(-5));
        store.create(&mut renewed).await.expect("create");
        renewed.expiry_date = OffsetDateTime::now_utc() + TimeDuration::hours(1);
        store.save(&renewed).await.expect("save");

        assert_eq!(store.delete_expired().await.expect("delete expired"), 1);
        assert_eq!(store.records.len(), 2);
        assert_eq!(store.expiries.len(), 2);
        assert!(store.load(&renewed.id).await.expect("load").is_some());
        assert!(store.load(&live.id).await.expect("load").is_some());
    }

    #[tokio::test]
    async fn create_never_overwrites_an_existing_id() {
        let store = store();
        let mut first = record(TimeDuration::hours(1));
        store.create(&mut first).await.expect("create");
        let mut second = record(TimeDuration::hours(1));
        second.id = first.id;
        second
            .data
            .insert("other".to_owned(), serde_json::Value::Bool(true));
        store.create(&mut second).await.expect("create");
        assert_ne!(second.id, first.id, "the colliding id was replaced");
        assert_eq!(store.load(&first.id).await.expect("load"), Some(first));
    }
}
