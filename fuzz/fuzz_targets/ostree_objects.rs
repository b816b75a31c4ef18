//! Fuzz the OSTree object decoders (ostree-store): commit, dirtree, dirmeta, detached
//! metadata, whole archive `.filez` objects (framing, header and the content inflated
//! whole) and bare-user file headers, chosen by the first byte. Arbitrary bytes must never
//! panic or allocate without bound.
#![no_main]

use ostree_store::objects::{parse_metadata, Commit, DirMeta, DirTree, FileHeader};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&which, object)) = data.split_first() else {
        return;
    };
    match which % 6 {
        0 => drop(Commit::decode(object)),
        1 => drop(DirTree::decode(object)),
        2 => drop(DirMeta::decode(object)),
        3 => drop(parse_metadata(object)),
        4 => drop(ostree_store::filez::decode(object)),
        _ => drop(FileHeader::decode_bareuser_meta(object)),
    }
});
