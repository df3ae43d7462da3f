//! The ledger's own stable hash, for request keys, file identities and the price fingerprint.
//!
//! Stored values depend on it, so it never changes between builds (std's `DefaultHasher` may).

/// A 64-bit hash of `parts` (each prefixed with its length), eight bytes at a step, with a
/// final avalanche (so the top byte, which picks a key's shard, depends on every input bit).
/// Keys and file identities are stored, so the hash must never change between builds (std's
/// `DefaultHasher` may); changing it means bumping [`SCHEMA_VERSION`](super::SCHEMA_VERSION), so that ledgers rebuild.
pub(crate) fn hash_of(parts: &[&[u8]]) -> i64 {
    const K: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    // Each step is a bijection of `h` for a given word, so inputs of one length that differ
    // in a single word never collide.
    let mut mix = |word: u64| h = (h ^ word).wrapping_mul(K).rotate_left(29);
    for p in parts {
        mix(p.len() as u64);
        let mut words = p.chunks_exact(8);
        for w in &mut words {
            mix(u64::from_le_bytes(w.try_into().unwrap_or([0; 8])));
        }
        let rest = words.remainder();
        if !rest.is_empty() {
            let mut last = [0u8; 8];
            last[..rest.len()].copy_from_slice(rest);
            mix(u64::from_le_bytes(last));
        }
    }
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b53f_e1a8_5ec3);
    h ^= h >> 33;
    h as i64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::usage::entries::shard_of;
    use std::collections::HashSet;

    #[test]
    fn stored_hashes_are_stable() {
        // Fixed values, computed independently: a change here needs a SCHEMA_VERSION bump, or
        // every ledger would count old messages again.
        assert_eq!(hash_of(&[]), 0xd8f9_afb3_6db0_d9af_u64 as i64);
        assert_eq!(hash_of(&[b"a"]), 0x0592_c3f4_96c3_429f_u64 as i64);
        assert_eq!(
            hash_of(&[b"msg_01fJO11UqBxhEIxFmB9MAm8D", b"req_011C"]),
            0x7619_32e3_a338_fa51_u64 as i64
        );
        assert_ne!(hash_of(&[b"ab", b"c"]), hash_of(&[b"a", b"bc"]));
        assert_ne!(hash_of(&[b"a"]), hash_of(&[b"a\0"]));
        // Keys that differ in one byte differ in the byte that picks their shard, mostly.
        let shards: HashSet<usize> = (0..1000u32)
            .map(|n| shard_of(hash_of(&[format!("msg_{n:05}").as_bytes()])))
            .collect();
        assert!(shards.len() > 240, "{} shards used", shards.len());
    }
}
