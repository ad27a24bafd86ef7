//! Separator keys of the tree: `Sep`, an owned key stored inline in the map's nodes when
//! short (so routing compares it without a pointer chase), and `KeyStr`, the borrowed form
//! searches use. Both order like their bytes (memcmp order), compared 8 bytes at a time.

use crate::key::cmp_bytes;
use std::borrow::Borrow;
use std::cmp::Ordering;

const INLINE: usize = 22;

/// An owned separator key: inline up to 22 bytes, else boxed (24 bytes either way).
pub(crate) enum Sep {
    Inline { len: u8, bytes: [u8; INLINE] },
    Heap(Box<[u8]>),
}

impl Sep {
    pub(crate) fn new(key: &[u8]) -> Sep {
        if key.len() <= INLINE {
            let mut bytes = [0u8; INLINE];
            bytes[..key.len()].copy_from_slice(key);
            Sep::Inline {
                len: key.len() as u8,
                bytes,
            }
        } else {
            Sep::Heap(key.into())
        }
    }

    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Sep::Inline { len, bytes } => &bytes[..*len as usize],
            Sep::Heap(b) => b,
        }
    }
}

/// A key as searches see it: bytes with the separators' order.
#[repr(transparent)]
pub(crate) struct KeyStr([u8]);

impl KeyStr {
    #[inline]
    pub(crate) fn new(key: &[u8]) -> &KeyStr {
        let p = key as *const [u8] as *const KeyStr;
        // SAFETY: `KeyStr` is a `repr(transparent)` wrapper of `[u8]`, so a `*const [u8]`
        // and a `*const KeyStr` have the same layout and metadata (the length); the result
        // borrows `key` for the same lifetime.
        unsafe { &*p }
    }
}

impl Ord for KeyStr {
    #[inline]
    fn cmp(&self, other: &KeyStr) -> Ordering {
        cmp_bytes(&self.0, &other.0)
    }
}

impl PartialOrd for KeyStr {
    #[inline]
    fn partial_cmp(&self, other: &KeyStr) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for KeyStr {
    #[inline]
    fn eq(&self, other: &KeyStr) -> bool {
        self.0 == other.0
    }
}

impl Eq for KeyStr {}

impl Borrow<KeyStr> for Sep {
    #[inline]
    fn borrow(&self) -> &KeyStr {
        KeyStr::new(self.as_bytes())
    }
}

impl Ord for Sep {
    #[inline]
    fn cmp(&self, other: &Sep) -> Ordering {
        cmp_bytes(self.as_bytes(), other.as_bytes())
    }
}

impl PartialOrd for Sep {
    #[inline]
    fn partial_cmp(&self, other: &Sep) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Sep {
    #[inline]
    fn eq(&self, other: &Sep) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Sep {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn separators_order_like_bytes() {
        let keys: Vec<Vec<u8>> = vec![
            vec![],
            vec![0],
            vec![1, 2, 3, 4, 5, 6, 7, 8],
            vec![1, 2, 3, 4, 5, 6, 7, 8, 0],
            vec![1, 2, 3, 4, 5, 6, 7, 9],
            vec![2; 22],
            vec![2; 23],
            vec![2; 40],
            vec![255; 9],
        ];
        for a in &keys {
            for b in &keys {
                let want = a.cmp(b);
                assert_eq!(Sep::new(a).cmp(&Sep::new(b)), want);
                assert_eq!(KeyStr::new(a).cmp(KeyStr::new(b)), want);
                assert_eq!(Sep::new(a) == Sep::new(b), a == b);
                assert_eq!(Sep::new(a).as_bytes(), &a[..]);
            }
        }
        assert_eq!(std::mem::size_of::<Sep>(), 24);
    }
}
