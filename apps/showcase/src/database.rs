//! The items database: one SQLite file shared by every worker process, and the `Db` handle
//! through which handlers reach it — on a thread pool, never on the event loop.
//!
//! Why a pool: SQLite's driver (like most database drivers) is *blocking*. A commit waits for
//! `fsync`, and a writer that finds another process holding the write lock waits up to the busy
//! timeout. On the event loop either wait would stall every other connection of that worker —
//! the seed's "Blocking I/O … 실행 흐름 정지" (blocking I/O stops the flow of execution). FastAPI
//! runs a plain `def` endpoint in a thread pool for the same reason; here [`Db::call`] sends the
//! driver call to a small per-worker `ThreadPool` and the loop awaits the result like a socket.
//! `--db-on-loop` (diagnostic only) skips the pool so `docs/showcase.md` can measure the
//! difference.
//!
//! Why this shape for sharing: every worker opens its own connections to one file in WAL mode
//! (readers never block the writer, the writer never blocks readers) with a busy timeout (writers
//! queue for the lock instead of failing). The supervisor creates the file and its table before
//! forking, and holds no connection while workers run: SQLite forbids carrying an open
//! connection across `fork`.

use std::cell::RefCell;
use std::fmt;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode};
use waitless::{run_in_threadpool, HttpError, StatusCode};
use waitless_pool::ThreadPool;

use crate::settings::Settings;

/// How long a writer waits for another process's write lock before `SQLITE_BUSY` (→ 503).
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

const SCHEMA: &str = "CREATE TABLE IF NOT EXISTS items (
    id    INTEGER PRIMARY KEY AUTOINCREMENT, -- AUTOINCREMENT: ids are never reused
    name  TEXT    NOT NULL,
    price REAL    NOT NULL,
    tags  TEXT    NOT NULL                   -- a JSON array of strings
)";

/// Creates the database file (if missing), switches it to WAL mode and creates the table.
/// Idempotent. Called once by the supervisor before any worker exists; the connection is
/// closed before returning.
pub fn create(path: &Path) -> Result<(), DbError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    // journal_mode is stored in the file: every later connection is in WAL mode too.
    let mode: String = conn.query_row("PRAGMA journal_mode=WAL", [], |row| row.get(0))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(DbError::NotWal(mode));
    }
    conn.execute_batch(SCHEMA)?;
    Ok(())
}

/// What can go wrong talking to the database.
#[derive(Debug)]
pub enum DbError {
    /// The driver failed (I/O, lock timeout, corrupt file, ...).
    Sqlite(rusqlite::Error),
    /// A stored `tags` value is not a JSON array of strings.
    Tags(serde_json::Error),
    /// The file system refused WAL mode (e.g. a network file system).
    NotWal(String),
}

impl From<rusqlite::Error> for DbError {
    fn from(e: rusqlite::Error) -> Self {
        DbError::Sqlite(e)
    }
}

impl From<serde_json::Error> for DbError {
    fn from(e: serde_json::Error) -> Self {
        DbError::Tags(e)
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DbError::Sqlite(e) => write!(f, "sqlite: {e}"),
            DbError::Tags(e) => write!(f, "stored tags are not a JSON string array: {e}"),
            DbError::NotWal(mode) => write!(f, "the database refused WAL mode (got {mode})"),
        }
    }
}

impl std::error::Error for DbError {}

impl DbError {
    /// A lock still held after the busy timeout is back-pressure (503, retry); the rest is a
    /// server fault (500, logged; the client sees no driver detail).
    pub fn into_http(self) -> HttpError {
        if let DbError::Sqlite(e) = &self {
            if e.sqlite_error_code() == Some(ErrorCode::DatabaseBusy) {
                log::warn!("showcase: database busy past {BUSY_TIMEOUT:?}: {e}");
                return HttpError::new(StatusCode::SERVICE_UNAVAILABLE, "Service Unavailable")
                    .with_header("retry-after", "1");
            }
        }
        log::error!("showcase: database error: {self}");
        HttpError::new(StatusCode::INTERNAL_SERVER_ERROR, "Internal Server Error")
    }
}

/// A worker's handle to the database (cheap to clone: the `State` extractor clones it per
/// request).
#[derive(Clone)]
pub struct Db {
    inner: Rc<DbInner>,
}

struct DbInner {
    path: Arc<PathBuf>,
    pool: ThreadPool,
    on_loop: bool,
}

impl Db {
    /// Starts this worker's DB pool. Runs in each worker (after the fork), from its startup hook.
    pub fn start(settings: &Settings) -> std::io::Result<Db> {
        let pool = ThreadPool::builder()
            .threads(settings.db_threads)
            .thread_name("showcase-db")
            .build()?;
        Ok(Db {
            inner: Rc::new(DbInner {
                path: Arc::new(settings.db_path.clone()),
                pool,
                on_loop: settings.db_on_loop,
            }),
        })
    }

    /// Runs `query` with a connection: on a pool thread (the loop awaits it), or — only with
    /// the diagnostic `--db-on-loop` — right here, blocking the loop.
    pub async fn call<T, Q>(&self, query: Q) -> Result<T, HttpError>
    where
        T: Send + 'static,
        Q: FnOnce(&Connection) -> Result<T, DbError> + Send + 'static,
    {
        let path = self.inner.path.clone();
        let job = move || with_connection(&path, query);
        let result = if self.inner.on_loop {
            job()
        } else {
            run_in_threadpool(&self.inner.pool, job).await?
        };
        result.map_err(DbError::into_http)
    }
}

thread_local! {
    /// One connection per thread (pool thread, or the loop with `--db-on-loop`), opened on first
    /// use: a `Connection` must not be used by two threads at once, and opening one per query
    /// would cost more than the query.
    static CONNECTION: RefCell<Option<(Arc<PathBuf>, Connection)>> = const { RefCell::new(None) };
}

fn with_connection<T>(
    path: &Arc<PathBuf>,
    query: impl FnOnce(&Connection) -> Result<T, DbError>,
) -> Result<T, DbError> {
    CONNECTION.with(|cell| {
        let conn = match cell.borrow_mut().take() {
            Some((p, conn)) if p == *path => conn,
            _ => open(path)?,
        };
        let result = query(&conn);
        *cell.borrow_mut() = Some((path.clone(), conn));
        result
    })
}

fn open(path: &Path) -> Result<Connection, DbError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(BUSY_TIMEOUT)?;
    Ok(conn)
}

/// The default database: a fresh directory in the temp directory holding `items.db` (and
/// SQLite's `-wal`/`-shm` files), removed when the supervisor drops this.
///
/// Only the process that created it removes it: a forked worker that ever dropped a copy would
/// otherwise delete the database under its siblings.
pub struct TempDatabase {
    dir: PathBuf,
    owner: u32,
}

impl TempDatabase {
    /// Creates a new, empty directory under `std::env::temp_dir()`.
    pub fn create() -> std::io::Result<TempDatabase> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let owner = std::process::id();
        let dir = std::env::temp_dir().join(format!("waitless-showcase-{owner}-{nanos:09}"));
        std::fs::create_dir(&dir)?;
        Ok(TempDatabase { dir, owner })
    }

    /// The database file inside the directory.
    pub fn path(&self) -> PathBuf {
        self.dir.join("items.db")
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        if std::process::id() != self.owner {
            return;
        }
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            log::warn!("showcase: could not remove {}: {e}", self.dir.display());
        }
    }
}
