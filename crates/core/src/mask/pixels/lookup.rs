//! Held cells for lookups: sorted depth-29 ranges with a directory of buckets, so that a lookup
//! finds its bucket by a shift and searches only the ranges that meet it (one or two cache
//! lines) instead of binary-searching them all (a cache miss a step over a large map); and one
//! bit per pixel where that is smaller (a block of scattered pixels).

use std::ops::Range;

/// The most buckets a directory has: 4 MB of `u32`.
const MOST_BUCKETS_LOG2: u32 = 20;

/// Sorted, disjoint ranges of depth-29 cells within `lo..hi`, with their directory.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    ranges: Vec<Range<u64>>,
    lo: u64,
    shift: u32,
    /// `directory[b]`: the first range that ends past bucket `b`'s start; one more at the end.
    directory: Vec<u32>,
}

impl Lookup {
    /// A lookup of `ranges` (sorted, disjoint, within `lo..hi`), about one bucket per range.
    pub(crate) fn new(ranges: Vec<Range<u64>>, lo: u64, hi: u64) -> Lookup {
        let span = (hi - lo).max(1);
        let span_log2 = 64 - (span - 1).leading_zeros();
        let buckets_log2 = (usize::BITS - ranges.len().leading_zeros()).min(MOST_BUCKETS_LOG2).min(span_log2);
        let shift = span_log2 - buckets_log2;
        let buckets = (((span - 1) >> shift) + 1) as usize;
        let mut directory = Vec::with_capacity(buckets + 1);
        let mut first = 0usize;
        for b in 0..=buckets {
            let start = lo.saturating_add((b as u64) << shift);
            while first < ranges.len() && ranges[first].end <= start {
                first += 1;
            }
            directory.push(first as u32);
        }
        Lookup { ranges, lo, shift, directory }
    }

    /// Whether `cell` (within `lo..hi`) is in a range.
    #[inline]
    pub(crate) fn contains(&self, cell: u64) -> bool {
        let b = ((cell - self.lo) >> self.shift) as usize;
        let (from, to) = (self.directory[b] as usize, self.directory[b + 1] as usize);
        // The ranges meeting the bucket: those from `from`, and the one straddling its end.
        let candidates = &self.ranges[from..(to + 1).min(self.ranges.len())];
        let at = candidates.partition_point(|r| r.end <= cell);
        candidates.get(at).is_some_and(|r| r.start <= cell)
    }

    /// The ranges, sorted.
    pub(crate) fn ranges(&self) -> &[Range<u64>] {
        &self.ranges
    }

    /// Bytes it holds.
    pub(crate) fn bytes(&self) -> usize {
        self.ranges.len() * std::mem::size_of::<Range<u64>>() + self.directory.len() * 4
    }
}

/// The runs of set bits in `words` (bit `k` of word `k / 64` for position `k`), as position
/// ranges: whole words of zeros and of ones are passed over a word at a time.
pub(crate) fn runs(words: &[u64]) -> Vec<Range<u64>> {
    let bits = words.len() as u64 * 64;
    let bit = |k: u64| words[(k / 64) as usize] >> (k % 64) & 1 == 1;
    // The first position at or after `k` whose bit is `want`, or `bits`.
    let next = |mut k: u64, want: bool| -> u64 {
        while k < bits {
            let word = words[(k / 64) as usize];
            let word = if want { word } else { !word };
            let rest = word >> (k % 64);
            if rest != 0 {
                return k + u64::from(rest.trailing_zeros());
            }
            k = (k / 64 + 1) * 64;
        }
        bits
    };
    let mut found = Vec::new();
    let mut k = 0;
    while k < bits {
        let start = next(k, true);
        if start >= bits {
            break;
        }
        let end = next(start, false);
        debug_assert!(bit(start) && (end == bits || !bit(end)));
        found.push(start..end);
        k = end;
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The lookup answers as a plain scan of the ranges, for cells anywhere in its span.
        #[test]
        fn a_lookup_answers_as_a_scan(
            mut cuts in prop::collection::vec(0u64..1_000_000, 0..400),
            lo in 0u64..1000,
            probes in prop::collection::vec(0u64..1_000_000, 1..200),
        ) {
            cuts.sort_unstable();
            cuts.dedup();
            let ranges: Vec<Range<u64>> = cuts.chunks_exact(2).map(|c| lo + c[0]..lo + c[1]).collect();
            let lookup = Lookup::new(ranges.clone(), lo, lo + 1_000_000);
            for probe in probes.into_iter().chain(ranges.iter().flat_map(|r| [r.start - lo, r.end - 1 - lo, r.end - lo])) {
                let cell = lo + probe.min(999_999);
                prop_assert_eq!(lookup.contains(cell), ranges.iter().any(|r| r.contains(&cell)), "cell {}", cell);
            }
        }

        /// Runs are exactly the set bits.
        #[test]
        fn runs_are_the_set_bits(words in prop::collection::vec(prop_oneof![Just(0u64), Just(u64::MAX), any::<u64>()], 0..40)) {
            let found = runs(&words);
            let mut covered = vec![false; words.len() * 64];
            for r in &found {
                prop_assert!(r.start < r.end);
                for k in r.clone() { covered[k as usize] = true; }
            }
            for (k, &c) in covered.iter().enumerate() {
                prop_assert_eq!(c, words[k / 64] >> (k % 64) & 1 == 1, "bit {}", k);
            }
            prop_assert!(found.windows(2).all(|w| w[0].end < w[1].start), "runs are maximal and apart");
        }
    }

    #[test]
    fn a_whole_sky_span_that_is_no_power_of_two() {
        let hi = 12u64 << 58;
        let lookup = Lookup::new(vec![5..10, (hi - 3)..hi], 0, hi);
        assert!(lookup.contains(5) && lookup.contains(9) && !lookup.contains(10) && lookup.contains(hi - 1));
        assert!(!lookup.contains(hi / 2) && !lookup.contains(0));
        let empty = Lookup::new(Vec::new(), 0, hi);
        assert!(!empty.contains(hi - 1));
    }
}
