//! PostgreSQL store (placeholder until the backend lands).

use super::*;

/// Connects and creates the schema if needed.
pub async fn open(_url: &str) -> Result<Arc<dyn Store>, StoreError> {
    Err(StoreError::Backend("postgres store not built yet".into()))
}
