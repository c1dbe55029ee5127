//! The seeded random stream of `angcut randoms` and the synthetic catalogues: SplitMix64, written
//! out here rather than taken from a crate so that a seed gives the same numbers on every
//! platform and every version (a crate's generator may change its stream between releases).

/// SplitMix64 (Steele, Lea and Flood 2014): one 64-bit state, passes BigCrush, and any seed
/// starts a good stream, so independent streams are seeded by [`SplitMix64::stream`].
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    /// The generator started from `seed`.
    pub fn new(seed: u64) -> SplitMix64 {
        SplitMix64(seed)
    }

    /// Stream `number` of the generator seeded `seed`: the seed and the number mixed, so that
    /// the streams of one seed (one per block of randoms) start far apart on the generator's
    /// cycle, and neighbouring seeds give unrelated streams.
    pub fn stream(seed: u64, number: u64) -> SplitMix64 {
        let mut mixer = SplitMix64::new(seed);
        let from_seed = mixer.next_u64();
        SplitMix64::new(from_seed ^ SplitMix64::new(number ^ 0xA076_1D64_78BD_642F).next_u64())
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1), from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `0..n` (n > 0), exactly: values from the incomplete last round of `n` are
    /// drawn again (for small `n` almost never, so a value is what `next_u64() % n` gives).
    pub fn below(&mut self, n: u64) -> u64 {
        assert!(n > 0, "below(0) has no values");
        // 2^64 mod n: the first values of the range, counted once too often by the modulo.
        let excess = n.wrapping_neg() % n;
        loop {
            let x = self.next_u64();
            if x >= excess {
                return x % n;
            }
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    /// A standard normal deviate (Box-Muller; the second value is dropped for simplicity).
    pub fn next_normal(&mut self) -> f64 {
        let u = 1.0 - self.next_f64(); // (0, 1], so the logarithm is finite
        let v = self.next_f64();
        (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
    }

    /// A position uniform on the sphere: ra = 360 u, dec = asin(2 v - 1), in degrees.
    pub fn next_position(&mut self) -> (f64, f64) {
        let ra = 360.0 * self.next_f64();
        let dec = (2.0 * self.next_f64() - 1.0).asin().to_degrees();
        (ra, dec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The published first outputs of SplitMix64 seeded 1234567 (the reference implementation's).
    #[test]
    fn the_stream_is_splitmix64s() {
        let mut rng = SplitMix64::new(1234567);
        let first: Vec<u64> = (0..3).map(|_| rng.next_u64()).collect();
        assert_eq!(first, [6457827717110365317, 3203168211198807973, 9817491932198370423]);
    }

    /// `below` is uniform over a range that is not a power of two, and never reaches `n`: a
    /// chi-square over 6 values of 60,000 draws stays below the 0.1% point (20.5 for 5 degrees).
    #[test]
    fn below_is_uniform_and_in_range() {
        let mut rng = SplitMix64::new(9);
        let mut counts = [0u64; 6];
        for _ in 0..60_000 {
            counts[rng.below(6) as usize] += 1;
        }
        let chi2: f64 = counts.iter().map(|&c| (c as f64 - 10_000.0).powi(2) / 10_000.0).sum();
        assert!(chi2 < 20.5, "{counts:?}");
        // A range of nearly 2^64: most values are drawn again; none reaches n.
        let n = u64::MAX / 2 + 7;
        assert!((0..1000).all(|_| rng.below(n) < n));
        assert_eq!(SplitMix64::new(3).below(1), 0);
    }

    #[test]
    fn streams_of_one_seed_differ_and_repeat() {
        let first = |seed, number| SplitMix64::stream(seed, number).next_u64();
        assert_eq!(first(7, 3), first(7, 3));
        assert_ne!(first(7, 3), first(7, 4));
        assert_ne!(first(7, 3), first(8, 3));
    }
}
