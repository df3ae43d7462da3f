//! Schema migrations, embedded from `migrations/` at build time and tracked in `user_version`.

use std::path::Path;

use rusqlite::Connection;

use super::StoreError;

include!(concat!(env!("OUT_DIR"), "/migrations.rs"));

/// The newest schema this binary knows.
pub const SCHEMA_VERSION: u32 = MIGRATIONS.len() as u32;

fn user_version(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    conn.query_row("PRAGMA user_version", [], |r| r.get::<_, u32>(0))
        .map_err(|e| StoreError::sqlite(path, e))
}

/// Refuse a database written by a newer PAIOS.
pub(super) fn check_not_newer(conn: &Connection, path: &Path) -> Result<u32, StoreError> {
    let found = user_version(conn, path)?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            path: path.to_path_buf(),
            found,
            known: SCHEMA_VERSION,
        });
    }
    Ok(found)
}

/// Apply every migration newer than the database, each in its own transaction.
pub fn migrate(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    let current = check_not_newer(conn, path)?;
    for (version, name, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v > current) {
        let tx = conn
            .transaction()
            .map_err(|e| StoreError::sqlite(path, e))?;
        tx.execute_batch(sql).map_err(|e| {
            StoreError::Write(format!(
                "migration {name} failed on {}: {e}",
                path.display()
            ))
        })?;
        tx.pragma_update(None, "user_version", version)
            .map_err(|e| StoreError::sqlite(path, e))?;
        tx.commit().map_err(|e| StoreError::sqlite(path, e))?;
        tracing::info!(migration = name, "applied migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_newer_database_is_refused_with_a_clear_message() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        conn.pragma_update(None, "user_version", SCHEMA_VERSION + 1)
            .unwrap();
        let err = migrate(&mut conn, &path).unwrap_err();
        assert!(err.to_string().contains("newer PAIOS"), "{err}");
    }

    #[test]
    fn migrating_twice_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.db");
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &path).unwrap();
        migrate(&mut conn, &path).unwrap();
        assert_eq!(user_version(&conn, &path).unwrap(), SCHEMA_VERSION);
    }
}
