//! What both dialects share: a range is an OR of AND-groups of comparators.

use std::fmt;

/// Writes groups as upstream's `String()` does: comparators joined by a space, groups by
/// ` || `.
pub(crate) fn write_groups<C: fmt::Display>(
    f: &mut fmt::Formatter<'_>,
    groups: &[Vec<C>],
) -> fmt::Result {
    for (gi, group) in groups.iter().enumerate() {
        if gi > 0 {
            f.write_str(" || ")?;
        }
        for (ci, c) in group.iter().enumerate() {
            if ci > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{c}")?;
        }
    }
    Ok(())
}
