//! Values that repeat across thousands of articles (category lists,
//! author names), held once: an [`Interner`] hands out one [`Shared`]
//! handle per distinct value in use.

use std::borrow::Borrow;
use std::collections::HashSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Arc, Mutex};

/// A shared value behind one thin pointer: 8 bytes in each article that
/// holds it, where an `Arc<str>` or an `Arc<[T]>` is 16 (a pointer and a
/// length). The length lives with the value, read when the value is.
/// Equality and hashing are the value's.
pub struct Shared<T: ?Sized>(Arc<Box<T>>);

impl<T: ?Sized> Shared<T> {
    pub fn new(value: Box<T>) -> Shared<T> {
        Shared(Arc::new(value))
    }
}

impl<T: ?Sized> Clone for Shared<T> {
    fn clone(&self) -> Self {
        Shared(Arc::clone(&self.0))
    }
}

impl<T: ?Sized> Deref for Shared<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized> Borrow<T> for Shared<T> {
    fn borrow(&self) -> &T {
        &self.0
    }
}

impl<T: ?Sized + PartialEq> PartialEq for Shared<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || **self == **other
    }
}

impl<T: ?Sized + Eq> Eq for Shared<T> {}

impl<T: ?Sized + Hash> Hash for Shared<T> {
    fn hash<H: Hasher>(&self, state: &mut H) {
        (**self).hash(state)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

impl<T: ?Sized + fmt::Display> fmt::Display for Shared<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (**self).fmt(f)
    }
}

/// One shared allocation per distinct value: a set behind a lock, held in
/// a `static` by the room whose values it shares (`article`).
pub struct Interner<T: ?Sized> {
    values: HashSet<Shared<T>>,
    /// Size after the last sweep of unused values.
    swept: usize,
}

impl<T: ?Sized + Eq + Hash> Interner<T> {
    pub fn new() -> Mutex<Interner<T>> {
        Mutex::new(Interner { values: HashSet::new(), swept: 0 })
    }

    /// The shared value equal to `value`, made by `make` the first time.
    pub fn get(lock: &Mutex<Interner<T>>, value: &T, make: impl FnOnce() -> Box<T>) -> Shared<T> {
        let Ok(mut interner) = lock.lock() else {
            // A panic while holding the lock: stop sharing, stay correct.
            return Shared::new(make());
        };
        if let Some(shared) = interner.values.get(value) {
            return shared.clone();
        }
        // Values no article holds any more go when the set has doubled, so
        // a store whose categories or writers keep changing does not grow
        // it for ever.
        if interner.values.len() >= 2 * interner.swept.max(64) {
            interner.values.retain(|s| Arc::strong_count(&s.0) > 1);
            interner.swept = interner.values.len();
        }
        let shared = Shared::new(make());
        interner.values.insert(shared.clone());
        shared
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_values_share_one_allocation_behind_a_thin_pointer() {
        let names = Interner::<str>::new();
        let a = Interner::get(&names, "Báo Yên Bái", || Box::from("Báo Yên Bái"));
        let b = Interner::get(&names, "Báo Yên Bái", || unreachable!("made once"));
        assert!(Arc::ptr_eq(&a.0, &b.0));
        assert_eq!(&*a, "Báo Yên Bái");
        assert_ne!(Interner::get(&names, "Mường Lò", || Box::from("Mường Lò")), a);
        assert_eq!(std::mem::size_of::<Option<Shared<str>>>(), 8);
        assert_eq!(std::mem::size_of::<Shared<[String]>>(), 8);
    }

    #[test]
    fn values_nobody_holds_are_swept_once_the_set_has_doubled() {
        let numbers = Interner::<str>::new();
        let kept = Interner::get(&numbers, "kept", || Box::from("kept"));
        for i in 0..200 {
            let n = i.to_string();
            drop(Interner::get(&numbers, &n, || Box::from(n.as_str())));
        }
        let held = numbers.lock().map(|i| i.values.len()).unwrap_or_default();
        assert!(held < 130, "{held} values held after 200 dropped");
        assert!(Arc::ptr_eq(&Interner::get(&numbers, "kept", || Box::from("kept")).0, &kept.0));
    }
}
