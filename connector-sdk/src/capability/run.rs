//! [`RunContext`]: what one sync run's syncer calls share, so a connector keeps no per-run state.

use std::any::{Any, TypeId};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex};

use crate::model::ResourceTypeId;

/// State that lives exactly as long as one [`crate::SyncEngine::run`] call and is shared by every
/// syncer call it makes: decisions taken once per run, resources already emitted, prefetched
/// pages. Each call of `run` (a resume in the same process included) gets a new, empty context,
/// so nothing one run learned leaks into the next.
///
/// ```
/// # use connector_sdk::RunContext;
/// #[derive(Default)]
/// struct Seen(std::sync::Mutex<std::collections::HashSet<i64>>);
///
/// let run = RunContext::new();
/// run.state::<Seen>().0.lock().unwrap().insert(7);
/// assert!(run.state::<Seen>().0.lock().unwrap().contains(&7));
/// assert!(RunContext::new().state::<Seen>().0.lock().unwrap().is_empty());
/// ```
#[derive(Clone, Default)]
pub struct RunContext {
    values: Arc<Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>>,
    /// The resource types this run syncs, when not all.
    selection: Option<Arc<BTreeSet<ResourceTypeId>>>,
}

impl RunContext {
    /// A new, empty context.
    pub fn new() -> Self {
        Self::default()
    }

    /// A new context of a run that syncs only `types`.
    pub fn with_selection(types: BTreeSet<ResourceTypeId>) -> Self {
        Self {
            selection: Some(Arc::new(types)),
            ..Self::default()
        }
    }

    /// Whether this run syncs `resource_type` (every type, unless the host selected some): a
    /// connector may skip work, or a permission, that only an unselected type needs.
    pub fn syncs(&self, resource_type: &ResourceTypeId) -> bool {
        self.selection
            .as_ref()
            .is_none_or(|selected| selected.contains(resource_type))
    }

    /// The run's value of type `T`, created with `T::default()` on first use.
    pub fn state<T: Any + Default + Send + Sync>(&self) -> Arc<T> {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let value = values
            .entry(TypeId::of::<T>())
            .or_insert_with(|| Arc::new(T::default()))
            .clone();
        drop(values);
        match value.downcast::<T>() {
            Ok(value) => value,
            // The map is keyed by the type id: the value under it is always a `T`.
            Err(_) => unreachable!("a RunContext value is stored under its own type id"),
        }
    }
}

impl fmt::Debug for RunContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let len = self.values.lock().map_or(0, |v| v.len());
        f.debug_struct("RunContext").field("values", &len).finish()
    }
}

impl PartialEq for RunContext {
    /// Two contexts are equal when they are the same run's.
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.values, &other.values)
    }
}

impl Eq for RunContext {}
