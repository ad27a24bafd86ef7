//! `InlineStack`: the explicit stack of the iterative walks over nested values.
//!
//! Its first `N` entries live inline (in the walker's own frame), so walking a value nested
//! fewer than `N` levels deep allocates nothing; deeper entries spill into a `Vec`. A walk
//! therefore costs no heap allocation on the usual shallow values and no thread stack on
//! deep ones.

/// A LIFO stack keeping its first `N` entries inline.
pub struct InlineStack<T, const N: usize> {
    inline: [Option<T>; N],
    len: usize,
    spill: Vec<T>,
}

impl<T, const N: usize> Default for InlineStack<T, N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, const N: usize> InlineStack<T, N> {
    pub fn new() -> Self {
        InlineStack {
            inline: std::array::from_fn(|_| None),
            len: 0,
            spill: Vec::new(),
        }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }

    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    #[inline]
    pub fn push(&mut self, t: T) {
        if self.len < N {
            self.inline[self.len] = Some(t);
        } else {
            self.spill.push(t);
        }
        self.len += 1;
    }

    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        if self.len == 0 {
            return None;
        }
        self.len -= 1;
        if self.len < N {
            self.inline[self.len].take()
        } else {
            self.spill.pop()
        }
    }

    #[inline]
    pub fn last(&self) -> Option<&T> {
        match self.len {
            0 => None,
            n if n <= N => self.inline[n - 1].as_ref(),
            _ => self.spill.last(),
        }
    }

    #[inline]
    pub fn last_mut(&mut self) -> Option<&mut T> {
        match self.len {
            0 => None,
            n if n <= N => self.inline[n - 1].as_mut(),
            _ => self.spill.last_mut(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn push_pop_across_the_spill() {
        let mut s: InlineStack<usize, 4> = InlineStack::new();
        assert!(s.pop().is_none());
        assert!(s.last().is_none());
        for i in 0..10 {
            s.push(i);
            assert_eq!(s.last(), Some(&i));
            assert_eq!(s.len(), i + 1);
        }
        *s.last_mut().unwrap() = 90;
        assert_eq!(s.pop(), Some(90));
        for i in (0..9).rev() {
            assert_eq!(s.last(), Some(&i));
            assert_eq!(s.pop(), Some(i));
        }
        assert!(s.is_empty());
        // reuse after draining
        s.push(7);
        *s.last_mut().unwrap() += 1;
        assert_eq!(s.pop(), Some(8));
    }
}
