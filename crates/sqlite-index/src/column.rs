//! Reading columns the way upstream's Go sqlite driver scans them into strings.

/// A TEXT column as upstream's driver scans it into a string: TEXT or BLOB (sqlite does not
/// enforce column types, and upstream and some indexes store manifests as BLOBs), numbers as
/// their text.
pub(crate) fn text(row: &rusqlite::Row<'_>, idx: usize) -> rusqlite::Result<Option<String>> {
    use rusqlite::types::ValueRef;
    Ok(match row.get_ref(idx)? {
        ValueRef::Null => None,
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(i) => Some(i.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
    })
}
