//! SQLite store (placeholder until the backend lands).

use super::*;

/// Opens (creating) the database at `path` (`:memory:` for a private one).
pub async fn open(_path: &str) -> Result<Arc<dyn Store>, StoreError> {
    Err(StoreError::Backend("sqlite store not built yet".into()))
}
